/* Tiny (<= 1 KiB): magazines refilled from spans owned by the thread's heap,
 * flushed back to them; blocks of another heap's span go to that heap's
 * lock-free remote queue (in chains, one CAS per owner run) and are drained
 * by the owner when the backlog reaches the drain threshold or when it needs
 * blocks.  Spans of an exited thread are abandoned and adopted by others.
 * Magazine capacity (TLS capacity x diet) and drain threshold are read here,
 * on the slow path, from the knob table. */
#include "hakmem_heap.h"
#include "hakmem_knobs.h"
#include <string.h>

static hak_lock_t abandoned_lock = HAK_LOCK_INIT;
static hak_span_lists_t abandoned[HAK_TINY_CLASSES];   /* reserve 0: empty ones are released */
static uint8_t abandoned_has_free[HAK_TINY_CLASSES];    /* peeked by refill without the lock */
static uint64_t abandoned_next_pass;

/* after any change to abandoned[c] (lock held) */
static void abandoned_sync(int c)
{
    __atomic_store_n(&abandoned_has_free[c], hak_spans_pick(&abandoned[c]) != NULL, __ATOMIC_RELAXED);
}

static void abandoned_insert(hak_span_t *sp)
{
    hak_spans_insert(&abandoned[sp->cls], sp);
    abandoned_sync(sp->cls);
}

static void abandoned_remove(hak_span_t *sp)
{
    hak_spans_remove(&abandoned[sp->cls], sp);
    abandoned_sync(sp->cls);
}

/* Return p to a span owned by h (h->lock held). */
static void local_put(hak_heap_t *h, hak_span_t *sp, void *p)
{
    if (!hak_spans_return(&h->spans[sp->cls], sp, (uintptr_t)p, &h->cnt))
        hak_report_double("free()", p);
}

static void own_span(hak_heap_t *h, hak_span_t *sp)
{
    sp->abandoned = 0;
    __atomic_store_n(&sp->owner, h, __ATOMIC_RELEASE);
    hak_spans_insert(&h->spans[sp->cls], sp);
}

/* Take over sp if it is abandoned; returns its owner afterwards. */
static hak_heap_t *adopt_span(hak_heap_t *h, hak_span_t *sp)
{
    hak_lock(&abandoned_lock, &h->cnt);
    hak_heap_t *o = __atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE);
    if (!o && sp->abandoned) {
        abandoned_remove(sp);
        own_span(h, sp);
        HAK_CNT_INC(h->cnt.slabs_adopted);
        o = h;
    }
    hak_unlock(&abandoned_lock);
    return o;
}

/* An abandoned span with free blocks, now owned by h. */
static hak_span_t *adopt_any(hak_heap_t *h, int c)
{
    if (!__atomic_load_n(&abandoned_has_free[c], __ATOMIC_RELAXED))
        return NULL;
    hak_lock(&abandoned_lock, &h->cnt);
    hak_span_t *sp = hak_spans_pick(&abandoned[c]);
    if (sp) {
        abandoned_remove(sp);
        own_span(h, sp);
        HAK_CNT_INC(h->cnt.slabs_adopted);
    }
    hak_unlock(&abandoned_lock);
    return sp;
}

static void remote_push(hak_heap_t *owner, int c, void *head, void *tail, uint64_t n, hak_counters_t *cnt)
{
    hak_remote_queue_t *q = &owner->remote[c];
    void *old = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
    do {
        *(void **)tail = old;
    } while (!__atomic_compare_exchange_n(&q->head, &old, head, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    __atomic_fetch_add(&q->n, n, __ATOMIC_RELAXED);
    hak_cnt_add(cnt, &cnt->cls[c].remote_frees, n);
}

/* Give p, a block of a span h does not own, to whoever owns that span now. */
static void forward(hak_heap_t *h, hak_span_t *sp, void *p)
{
    hak_heap_t *o = __atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE);
    if (!o)
        o = adopt_span(h, sp);
    if (o == h)
        local_put(h, sp, p);
    else
        remote_push(o, sp->cls, p, p, 1, &h->cnt);
}

static void drain(hak_heap_t *h, int c)
{
    hak_remote_queue_t *q = &h->remote[c];
    void *p = __atomic_exchange_n(&q->head, NULL, __ATOMIC_ACQUIRE);
    uint64_t n = 0;
    while (p) {
        void *next = *(void **)p;
        hak_span_t *sp = hak_span_of((uintptr_t)p);
        if (__atomic_load_n(&sp->owner, __ATOMIC_RELAXED) == h)
            local_put(h, sp, p);
        else
            forward(h, sp, p);
        p = next;
        n++;
    }
    __atomic_fetch_sub(&q->n, n, __ATOMIC_RELAXED);
    HAK_CNT_INC(h->cnt.cls[c].drains);
}

static int backlog_due(hak_heap_t *h, int c)
{
    int64_t n = (int64_t)__atomic_load_n(&h->remote[c].n, __ATOMIC_RELAXED);
    return n > 0 && (uint64_t)n >= HAK_KNOB_GET(drain_threshold[c]);
}

/* The heap's maintenance pass over all its Tiny classes (see hak_spans_maintain). */
int hak_tiny_maintain(hak_heap_t *h, uint64_t deadline)
{
    if (!hak_spin_try(&h->lock))
        return 1;
    uint32_t pages = HAK_KNOB_GET(partial_release_pages);
    int more = 1;
    for (int c = 0; c < HAK_TINY_CLASSES && more; c++)
        more = hak_spans_maintain(&h->spans[c], pages, deadline, &h->cnt);
    hak_spin_unlock(&h->lock);
    return more;
}

void hak_tiny_refill(hak_heap_t *h, int c)
{
    uint32_t cap = hak_knobs_effective_cap(c);
    hak_span_lists_t *l = &h->spans[c];
    h->cap[c] = cap;
    hak_spin_lock(&h->lock, &h->cnt);
    if (backlog_due(h, c))
        drain(h, c);
    while (h->count[c] < cap) {
        hak_span_t *sp = hak_spans_pick(l);
        if (!sp && __atomic_load_n(&h->remote[c].head, __ATOMIC_RELAXED)) {
            drain(h, c);
            sp = hak_spans_pick(l);
        }
        if (!sp && !(sp = adopt_any(h, c))) {
            if (!(sp = hak_span_alloc(c, &h->cnt)))
                break;
            own_span(h, sp);
        }
        h->count[c] += hak_spans_take(l, sp, &h->items[c][h->count[c]], cap - h->count[c]);
    }
    hak_spin_unlock(&h->lock);
    HAK_CNT_INC(h->cnt.cls[c].refills);
}

/* Blocks of class c go back: to h's own spans, or in chains (one CAS per run
 * of one owner) to their owners' remote queues (h->lock held). */
static void give_back(hak_heap_t *h, int c, void **blocks, uint32_t n)
{
    hak_heap_t *ro = NULL;
    void *rhead = NULL, *rtail = NULL;
    uint64_t rn = 0;
    for (uint32_t i = 0; i < n; i++) {
        void *p = blocks[i];
        hak_span_t *sp = hak_span_of((uintptr_t)p);
        hak_heap_t *o = __atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE);
        if (o == h || (!o && (o = adopt_span(h, sp)) == h)) {
            local_put(h, sp, p);
            continue;
        }
        if (o != ro) {
            if (rn)
                remote_push(ro, c, rhead, rtail, rn, &h->cnt);
            ro = o;
            rhead = rtail = NULL;
            rn = 0;
        }
        *(void **)p = rhead;
        rhead = p;
        if (!rtail)
            rtail = p;
        rn++;
    }
    if (rn)
        remote_push(ro, c, rhead, rtail, rn, &h->cnt);
}

void hak_tiny_flush(hak_heap_t *h, int c, uint32_t keep)
{
    void **it = h->items[c];
    uint32_t n = h->count[c] - keep;
    hak_spin_lock(&h->lock, &h->cnt);
    give_back(h, c, it, n);
    if (backlog_due(h, c))
        drain(h, c);
    hak_spin_unlock(&h->lock);
    memmove(it, it + n, keep * sizeof(void *));
    h->count[c] = keep;
    h->cap[c] = hak_knobs_effective_cap(c);
    HAK_CNT_INC(h->cnt.cls[c].flushes);
}

void hak_tiny_outbox_flush(hak_heap_t *h, int c)
{
    hak_spin_lock(&h->lock, &h->cnt);
    give_back(h, c, h->outbox[c], h->nout[c]);
    hak_spin_unlock(&h->lock);
    h->nout[c] = 0;
}

void hak_tiny_free_direct(hak_span_t *sp, void *p)
{
    for (;;) {
        hak_heap_t *o = __atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE);
        if (o) {
            remote_push(o, sp->cls, p, p, 1, &hak_global_counters);
            return;
        }
        hak_lock(&abandoned_lock, &hak_global_counters);
        if (!__atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE)) {
            int ok = hak_spans_return(&abandoned[sp->cls], sp, (uintptr_t)p, &hak_global_counters);
            uint64_t deadline;
            if (hak_pass_due(&abandoned_next_pass, &deadline))
                hak_spans_maintain(&abandoned[sp->cls], HAK_KNOB_GET(partial_release_pages), deadline,
                                   &hak_global_counters);
            abandoned_sync(sp->cls);
            hak_unlock(&abandoned_lock);
            if (!ok)
                hak_report_double("free()", p);
            return;
        }
        hak_unlock(&abandoned_lock);
    }
}

static void abandon_list(hak_heap_t *h, hak_span_lists_t *l, hak_span_t *sp)
{
    while (sp) {
        hak_span_t *next = sp->next;
        hak_spans_remove(l, sp);
        if (sp->used == 0) {
            hak_span_free(sp, &h->cnt);
        } else {
            hak_lock(&abandoned_lock, &h->cnt);
            __atomic_store_n(&sp->owner, NULL, __ATOMIC_RELEASE);
            sp->abandoned = 1;
            abandoned_insert(sp);
            hak_unlock(&abandoned_lock);
        }
        sp = next;
    }
}

void hak_tiny_retire(hak_heap_t *h)
{
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        if (h->count[c])
            hak_tiny_flush(h, c, 0);
        if (h->nout[c])
            hak_tiny_outbox_flush(h, c);
    }
    hak_spin_lock(&h->lock, &h->cnt);
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        hak_span_lists_t *l = &h->spans[c];
        drain(h, c);
        for (int list = HAK_LIST_AVAIL; list <= HAK_LIST_FULL; list++)
            abandon_list(h, l, l->head[list]);
    }
    hak_spin_unlock(&h->lock);
}

size_t hak_tiny_release(hak_heap_t *h, int empty_only, uint32_t pages, uint64_t deadline, hak_counters_t *cnt)
{
    if (!hak_spin_try(&h->lock))
        return 0;
    size_t done = 0;
    for (int c = 0; c < HAK_TINY_CLASSES; c++)
        done += hak_spans_release(&h->spans[c], empty_only, pages, deadline, cnt);
    hak_spin_unlock(&h->lock);
    return done;
}

size_t hak_tiny_release_abandoned(int empty_only, uint32_t pages, uint64_t deadline)
{
    size_t done = 0;
    hak_lock(&abandoned_lock, &hak_global_counters);
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        done += hak_spans_release(&abandoned[c], empty_only, pages, deadline, &hak_global_counters);
        abandoned_sync(c);
    }
    hak_unlock(&abandoned_lock);
    return done;
}

void hak_tiny_lock_all(void) { pthread_mutex_lock(&abandoned_lock.m); }
void hak_tiny_unlock_all(void) { pthread_mutex_unlock(&abandoned_lock.m); }
void hak_tiny_reinit_locks(void) { hak_lock_reinit(&abandoned_lock); }
