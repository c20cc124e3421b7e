/* Tiny (<= 1 KiB): magazines refilled from spans owned by the thread's heap
 * and flushed back to them, through the heap's depot of batches per class:
 * a flushed batch waits there whole for the next refill, so blocks that
 * cycle through a thread never touch a span bitmap.  A depot holds at most
 * one span page of bytes, and no more than refills took from it over the
 * last maintenance period; what does not fit goes back to the span bitmaps.
 * A block freed by a thread that does not own its span goes to that span's
 * own remote list (one CAS per chain; frees bound
 * for one span are gathered in a per-class outbox first).  The push that
 * finds the span not queued puts it on its owner's inbox (or the abandoned
 * inbox); the owner moves inbox spans to a per-class watch list and collects
 * a span's list in one exchange when it refills and finds no free block, when
 * the span's pending count reaches the drain threshold (at flush and refill),
 * in its maintenance pass, and before any release.  Spans of an exited
 * thread are abandoned with their pending frees and adopted by others.
 * Magazine capacity (TLS capacity x diet) and drain threshold are read here,
 * on the slow path, from the knob table. */
#include "hakmem_tiny_magazine.h"
#include "hakmem_report.h"
#include "hakmem_knobs.h"
#include <string.h>

static hak_lock_t abandoned_lock = HAK_LOCK_INIT;
static hak_span_lists_t abandoned[HAK_TINY_CLASSES];   /* reserve 0: empty ones are released */
static uint8_t abandoned_has_free[HAK_TINY_CLASSES];    /* peeked by refill without the lock */
static hak_span_t *abandoned_inbox;                     /* abandoned spans that got remote frees */
static uint64_t abandoned_next_pass;

static int release_pages(void) { return HAK_KNOB_GET(partial_release_pages) != 0; }

/* after any change to abandoned[c] (lock held) */
static void abandoned_sync(int c)
{
    __atomic_store_n(&abandoned_has_free[c], hak_spans_pick(&abandoned[c]) != NULL, __ATOMIC_RELAXED);
}

/* ---- remote frees: the freeing side ---- */

static void inbox_push(hak_span_t **inbox, hak_span_t *sp)
{
    hak_span_t *old = __atomic_load_n(inbox, __ATOMIC_RELAXED);
    do {
        sp->pnext = old;
    } while (!__atomic_compare_exchange_n(inbox, &old, sp, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

static void inbox_reroute(hak_span_t **inbox);

/* sp has remote frees: unless it is queued already, queue it where the one
 * who may collect it looks (its owner's inbox, or the abandoned inbox). */
static void span_notify(hak_span_t *sp)
{
    if (__atomic_load_n(&sp->queued, __ATOMIC_SEQ_CST) || __atomic_exchange_n(&sp->queued, 1, __ATOMIC_SEQ_CST))
        return;
    hak_heap_t *o = __atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE);
    if (!o) {
        inbox_push(&abandoned_inbox, sp);
        return;
    }
    inbox_push(&o->inbox, sp);
    /* the owner retired after we read it: it will not look at its inbox */
    if (!__atomic_load_n(&o->live, __ATOMIC_SEQ_CST))
        inbox_reroute(&o->inbox);
}

/* An inbox entry that is not the taker's to collect: off the list, then
 * queued again where it belongs now if frees are pending. */
static void span_requeue(hak_span_t *sp)
{
    __atomic_store_n(&sp->queued, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sp->rhead, __ATOMIC_SEQ_CST))
        span_notify(sp);
}

static void inbox_reroute(hak_span_t **inbox)
{
    hak_span_t *sp = __atomic_exchange_n(inbox, NULL, __ATOMIC_ACQUIRE);
    while (sp) {
        hak_span_t *next = sp->pnext;
        span_requeue(sp);
        sp = next;
    }
}

/* Push a chain of blocks of sp (tail's link is set here). */
static void span_push(hak_span_t *sp, void *head, void *tail, uint32_t n, hak_counters_t *cnt)
{
    uint64_t old = __atomic_load_n(&sp->rhead, __ATOMIC_RELAXED), nv;
    do {
        hak_link_set(tail, HAK_RHEAD_PTR(old));
        nv = ((uint64_t)(HAK_RHEAD_COUNT(old) + n) << HAK_RHEAD_SHIFT) | (uintptr_t)head;
    } while (!__atomic_compare_exchange_n(&sp->rhead, &old, nv, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    hak_cnt_add(cnt, &cnt->cls[sp->cls].remote_frees, n);
    span_notify(sp);
}

static void outbox_flush(hak_heap_t *h, int c)
{
    hak_outbox_t *o = &h->outbox[c];
    if (o->n)
        span_push(o->span, o->head, o->tail, o->n, &h->cnt);
    o->n = 0;
    o->span = NULL;
    o->head = NULL;
    h->out_mask &= ~(1u << c);
}

void hak_tiny_outbox_flush_all(hak_heap_t *h)
{
    while (h->out_mask)
        outbox_flush(h, __builtin_ctz(h->out_mask));
}

void hak_tiny_free_orphan(hak_span_t *sp, void *p)
{
    span_push(sp, p, p, 1, &hak_global_counters);
}

void hak_tiny_outbox_start(hak_heap_t *h, hak_span_t *sp, void *p)
{
    int c = sp->cls;
    hak_outbox_t *o = &h->outbox[c];
    outbox_flush(h, c);
    hak_link_set(p, NULL);
    *o = (hak_outbox_t){ sp, p, p, 1 };
    h->out_mask |= 1u << c;
}

/* ---- remote frees: the collecting side ---- */

/* Return n blocks of sp to its bitmap (the lock of l held). */
static void span_return(hak_span_lists_t *l, hak_span_t *sp, void *const *blocks, uint32_t n, hak_counters_t *cnt)
{
    void *bad = hak_spans_return(l, sp, blocks, n, release_pages(), cnt);
    if (bad)
        hak_report_double("free()", bad);
}

/* Bytes of blocks a heap's depot keeps per class: one span page. */
#define DEPOT_BYTES HAK_PAGE_SIZE

static uint32_t depot_max(int c) { return DEPOT_BYTES / hak_class_size[c]; }

/* Return a list of blocks of sp to its bitmap (the lock of l held), in runs
 * of 64; each run's links are read before it goes back (the span may be
 * released with its last block). */
static void span_return_list(hak_span_lists_t *l, hak_span_t *sp, void *p, hak_counters_t *cnt)
{
    void *run[64];
    while (p) {
        uint32_t k = 0;
        for (; p && k < 64; p = hak_link_get(p))
            run[k++] = p;
        span_return(l, sp, run, k, cnt);
    }
}

/* Return sp's pending remote frees to its bitmap (the lock of l held).
 * They do not go to the depot: handing a freeing thread's blocks straight
 * back out was slower (xmalloc_small 0.68 s against 0.50 s; see
 * DESIGN-NOTES), the bitmap hands out the densest span's blocks first. */
static uint32_t span_collect(hak_span_lists_t *l, hak_span_t *sp, hak_counters_t *cnt)
{
    uint64_t v = __atomic_exchange_n(&sp->rhead, 0, __ATOMIC_SEQ_CST);
    uint32_t n = HAK_RHEAD_COUNT(v);
    int c = sp->cls;   /* read first: the span may be released by the return */
    span_return_list(l, sp, HAK_RHEAD_PTR(v), cnt);
    if (n)
        hak_cnt_add(cnt, &cnt->cls[c].remote_collected, n);
    return n;
}

/* Blocks of a list of class c back to h's spans (h->lock held), a run of
 * blocks of one span at a time; a block of a span h no longer owns (given
 * up at fork) goes to that span as a remote free.  cnt is &h->cnt when h's
 * own thread calls; a release pass from another thread passes its own and
 * must not touch h's outbox or counters, which only h's thread writes. */
static void heap_return_list(hak_heap_t *h, int c, void *p, hak_counters_t *cnt)
{
    void *run[64];
    while (p) {
        hak_span_t *sp = hak_span_of((uintptr_t)p);
        uint32_t k = 0;
        for (; p && k < 64 && (uintptr_t)p - sp->start < HAK_SPAN_LIMIT(sp); p = hak_link_get(p))
            run[k++] = p;
        if (__atomic_load_n(&sp->owner, __ATOMIC_RELAXED) == h)
            span_return(&h->spans[c], sp, run, k, cnt);
        else if (cnt == &h->cnt)
            for (uint32_t i = 0; i < k; i++)
                hak_tiny_free_remote(h, sp, run[i]);
        else
            for (uint32_t i = 0; i < k; i++)
                hak_tiny_free_orphan(sp, run[i]);
    }
}

/* Batches of h's depot of class c back to the spans, newest first, until it
 * holds at most `keep` blocks (h->lock held). */
static void depot_trim(hak_heap_t *h, int c, uint32_t keep, hak_counters_t *cnt)
{
    hak_depot_t *d = &h->depot[c];
    while (d->blocks > keep)
        heap_return_list(h, c, hak_depot_take(d).head, cnt);
}

/* The maintenance pass: a depot keeps no more than refills took from it
 * over the last period.  A thread that only frees (the end of a phase) sends its
 * batches on to the spans, whose free pages can go back; one that churns
 * keeps a depot as deep as its churn. */
static void depot_age(hak_heap_t *h, int c)
{
    hak_depot_t *d = &h->depot[c];
    d->demand = d->took;
    d->took = 0;
    depot_trim(h, c, d->demand, &h->cnt);
}

/* Take h's inbox (h->lock held): h's spans go on their class's watch list. */
static void inbox_take(hak_heap_t *h)
{
    if (!__atomic_load_n(&h->inbox, __ATOMIC_RELAXED))
        return;
    hak_span_t *sp = __atomic_exchange_n(&h->inbox, NULL, __ATOMIC_ACQUIRE);
    while (sp) {
        hak_span_t *next = sp->pnext;
        if (__atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE) == h && HAK_SPAN_LIMIT(sp) && sp->owner_mask) {
            sp->pnext = h->watch[sp->cls];
            h->watch[sp->cls] = sp;
        } else {
            span_requeue(sp);
        }
        sp = next;
    }
}

/* Collect the watched spans of class c whose pending count is due (all of
 * them when force); h->lock held. */
static void collect_class(hak_heap_t *h, int c, int force, hak_counters_t *cnt)
{
    uint32_t thr = HAK_KNOB_GET(drain_threshold[c]), got = 0;
    hak_span_t **pp = &h->watch[c], *sp;
    while ((sp = *pp)) {
        uint32_t pending = HAK_RHEAD_COUNT(__atomic_load_n(&sp->rhead, __ATOMIC_RELAXED));
        if (!force && pending < hak_span_drain_due(sp, thr)) {
            pp = &sp->pnext;
            continue;
        }
        *pp = sp->pnext;
        __atomic_store_n(&sp->queued, 0, __ATOMIC_SEQ_CST);
        got += span_collect(&h->spans[c], sp, cnt);
    }
    if (got)
        hak_cnt_add(cnt, &cnt->cls[c].drains, 1);
}

static void collect_all(hak_heap_t *h, hak_counters_t *cnt)
{
    inbox_take(h);
    for (int c = 0; c < HAK_TINY_CLASSES; c++)
        if (h->watch[c])
            collect_class(h, c, 1, cnt);
}

/* ---- abandoned spans ---- */

/* Pending frees of abandoned spans go to their bitmaps (abandoned_lock held). */
static void abandoned_take_inbox(void)
{
    if (!__atomic_load_n(&abandoned_inbox, __ATOMIC_RELAXED))
        return;
    hak_span_t *sp = __atomic_exchange_n(&abandoned_inbox, NULL, __ATOMIC_ACQUIRE);
    while (sp) {
        hak_span_t *next = sp->pnext;
        if (!__atomic_load_n(&sp->owner, __ATOMIC_ACQUIRE) && sp->abandoned && HAK_SPAN_LIMIT(sp)) {
            int c = sp->cls;   /* read first: the span may be released by the collection */
            __atomic_store_n(&sp->queued, 0, __ATOMIC_SEQ_CST);
            span_collect(&abandoned[c], sp, &hak_global_counters);
            abandoned_sync(c);
        } else {
            span_requeue(sp);
        }
        sp = next;
    }
}

static void own_span(hak_heap_t *h, hak_span_t *sp)
{
    sp->abandoned = 0;
    __atomic_store_n(&sp->owner, h, __ATOMIC_RELEASE);
    hak_spans_insert(&h->spans[sp->cls], sp);
}

/* An abandoned span with free blocks, now owned by h. */
static hak_span_t *adopt_any(hak_heap_t *h, int c)
{
    if (!__atomic_load_n(&abandoned_has_free[c], __ATOMIC_RELAXED) &&
        !__atomic_load_n(&abandoned_inbox, __ATOMIC_RELAXED))
        return NULL;
    hak_lock(&abandoned_lock, &h->cnt);
    abandoned_take_inbox();
    hak_span_t *sp = hak_spans_pick(&abandoned[c]);
    if (sp) {
        hak_spans_remove(&abandoned[c], sp);
        abandoned_sync(c);
        own_span(h, sp);
        HAK_CNT_INC(h->cnt.spans_adopted);
    }
    hak_unlock(&abandoned_lock);
    return sp;
}

/* Frees into abandoned spans, and their empty pages, from a live thread's
 * maintenance pass: nobody else may look at them while no one adopts. */
static void abandoned_maintain(void)
{
    uint64_t deadline;
    if (!hak_pass_due(&abandoned_next_pass, &deadline) || !hak_trylock(&abandoned_lock))
        return;
    abandoned_take_inbox();
    uint32_t pages = HAK_KNOB_GET(partial_release_pages);
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        hak_spans_maintain(&abandoned[c], pages, deadline, &hak_global_counters);
        abandoned_sync(c);
    }
    hak_unlock(&abandoned_lock);
}

/* ---- the owner's slow paths ---- */

/* The heap's maintenance pass over all its Tiny classes (see hak_spans_maintain). */
int hak_tiny_maintain(hak_heap_t *h, uint64_t deadline)
{
    hak_tiny_outbox_flush_all(h);
    abandoned_maintain();
    if (!hak_spin_try(&h->lock))
        return 1;
    collect_all(h, &h->cnt);
    for (int c = 0; c < HAK_TINY_CLASSES; c++)
        depot_age(h, c);
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
    hak_batch_t got[HAK_DEPOT_MAX];
    hak_mag_set_cap(h, c, cap);
    hak_spin_lock(&h->lock, &h->cnt);
    inbox_take(h);
    collect_class(h, c, 0, &h->cnt);
    uint32_t room = cap - hak_mag_count(h, c);
    uint32_t k = hak_depot_take_into(&h->depot[c], got, room, room);
    while (!k && hak_mag_count(h, c) < cap) {
        hak_span_t *sp = hak_spans_pick(l);
        if (!sp && h->watch[c]) {
            collect_class(h, c, 1, &h->cnt);
            sp = hak_spans_pick(l);
        }
        if (!sp && !(sp = adopt_any(h, c))) {
            if (!(sp = hak_span_alloc(c, &h->cnt)))
                break;
            own_span(h, sp);
        }
        uint32_t have = hak_mag_count(h, c);
        h->top[c] += hak_spans_take(l, sp, hak_mag_items(h, c) + have, cap - have);
    }
    hak_spin_unlock(&h->lock);
    for (uint32_t i = 0; i < k; i++)
        hak_mag_put_batch(h, c, got[i]);
    HAK_CNT_INC(h->cnt.cls[c].refills);
}

void hak_tiny_flush(hak_heap_t *h, int c, hak_batch_t b)
{
    hak_spin_lock(&h->lock, &h->cnt);
    /* one batch beyond what refills took: it lets the depot grow with a churn */
    hak_depot_t *d = &h->depot[c];
    uint32_t max = (d->demand > d->took ? d->demand : d->took) + b.n;
    if (!hak_depot_put(d, b, max < depot_max(c) ? max : depot_max(c)))
        heap_return_list(h, c, b.head, &h->cnt);
    inbox_take(h);
    collect_class(h, c, 0, &h->cnt);
    hak_spin_unlock(&h->lock);
    HAK_CNT_INC(h->cnt.cls[c].flushes);
}

/* ---- thread exit, fork, release ---- */

/* Give h's spans up (h->lock held): every span's pending frees are collected
 * first (a freer between its push and its notify leaves them unqueued), then
 * the spans wait on the abandoned lists. */
static void abandon_class(hak_heap_t *h, int c)
{
    hak_span_lists_t *l = &h->spans[c];
    for (int list = HAK_LIST_AVAIL; list <= HAK_LIST_FULL; list++)
        for (hak_span_t *sp = l->head[list], *next; sp; sp = next) {
            next = sp->next;
            if (__atomic_load_n(&sp->rhead, __ATOMIC_RELAXED))
                span_collect(l, sp, &h->cnt);
        }
    for (int list = HAK_LIST_AVAIL; list <= HAK_LIST_FULL; list++)
        while (l->head[list]) {
            hak_span_t *sp = l->head[list];
            hak_spans_remove(l, sp);
            /* empty ones too: the next thread takes them warm (threads that
             * come and go); a maintenance pass releases them once aged */
            hak_lock(&abandoned_lock, &h->cnt);
            __atomic_store_n(&sp->owner, NULL, __ATOMIC_RELEASE);
            sp->abandoned = 1;
            hak_spans_insert(&abandoned[c], sp);
            abandoned_sync(c);
            hak_unlock(&abandoned_lock);
            /* frees pushed before the owner changed may be waiting unqueued */
            if (__atomic_load_n(&sp->rhead, __ATOMIC_SEQ_CST))
                span_notify(sp);
        }
}

void hak_tiny_retire(hak_heap_t *h)
{
    hak_spin_lock(&h->lock, &h->cnt);
    for (int c = 0; c < HAK_TINY_CLASSES; c++)
        if (hak_mag_count(h, c))
            heap_return_list(h, c, hak_mag_take_oldest(h, c, hak_mag_count(h, c)).head, &h->cnt);
    hak_tiny_outbox_flush_all(h);
    collect_all(h, &h->cnt);
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        depot_trim(h, c, 0, &h->cnt);
        abandon_class(h, c);
    }
    hak_spin_unlock(&h->lock);
    /* out of use: spans queued on the inbox from now on are sent on by
     * whoever queued them (span_notify), those queued so far by us */
    __atomic_store_n(&h->live, 0, __ATOMIC_SEQ_CST);
    inbox_reroute(&h->inbox);
}

static void reset_remote(hak_span_t *sp, void *arg)
{
    sp->queued = 0;
    sp->pnext = NULL;
}

static void renotify(hak_span_t *sp, void *arg)
{
    if (sp->limit && sp->owner_mask && sp->rhead)
        span_notify(sp);
}

/* In a forked child only this thread exists: a freer of the parent may have
 * stopped between its push and its inbox push, so the queues are rebuilt from
 * the spans' own lists, after hak_tiny_atfork_child_heap for every heap. */
void hak_tiny_atfork_child_heap(hak_heap_t *h)
{
    h->inbox = NULL;
    memset(h->watch, 0, sizeof h->watch);
}

void hak_tiny_atfork_child_spans(void)
{
    hak_segments_foreach_desc(reset_remote, NULL);
    abandoned_inbox = NULL;
    hak_segments_foreach_desc(renotify, NULL);
}

size_t hak_tiny_release(hak_heap_t *h, int empty_only, uint32_t pages, uint64_t deadline, hak_counters_t *cnt)
{
    if (!hak_spin_try(&h->lock))
        return 0;
    collect_all(h, cnt);
    size_t done = 0;
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        depot_trim(h, c, 0, cnt);
        done += hak_spans_release(&h->spans[c], empty_only, pages, deadline, cnt);
    }
    hak_spin_unlock(&h->lock);
    return done;
}

size_t hak_tiny_release_abandoned(int empty_only, uint32_t pages, uint64_t deadline)
{
    size_t done = 0;
    hak_lock(&abandoned_lock, &hak_global_counters);
    abandoned_take_inbox();
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
