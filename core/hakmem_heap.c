/* Thread heaps: initialisation, the heap of each thread (created on its first
 * slow path, pooled after it exits), thread exit, fork, and the malloc/free
 * slow paths.  The fast paths are in hakmem_heap.h. */
#define _GNU_SOURCE
#include "hakmem_heap.h"
#include "hakmem_knobs.h"
#include "hakmem_large.h"
#include <errno.h>
#include <string.h>
#include <stdint.h>

static hak_heap_t heap_empty;                 /* capacity 0 everywhere: every call goes slow */
__thread hak_heap_t *hak_tl_heap = &heap_empty;
static __thread int tl_exited, tl_in_init;
hak_secrets_t hak_secrets;
_Static_assert(sizeof(hak_secrets_t) == HAK_OS_PAGE, "the secrets fill one page");

static int init_state;                        /* 0 none, 1 running, 2 done */
static pthread_key_t heap_key;
static hak_lock_t heaps_lock = HAK_LOCK_INIT;
static hak_heap_t *heaps_all, *heaps_free;
static uint32_t heaps_next_id;

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
static void thread_exit(void *arg);

void hak_init(void)
{
    if (HAK_LIKELY(__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2))
        return;
    int expected = 0;
    if (__atomic_compare_exchange_n(&init_state, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        tl_in_init = 1;
        uint64_t r[2];
        hak_os_auxv_random(r);
        hak_secrets.free_mark = r[0] ^ r[1] ^ (uintptr_t)&heap_empty ^ 0x5bd1e9955bd1e995ull;
        hak_secrets.free_mark |= 1;   /* never 0: a zeroed word must not look free */
        hak_secrets.canary = (r[0] * 0x9E3779B97F4A7C15ull) ^ (r[1] >> 3) ^ (uintptr_t)&init_state;
        /* read-only from here on (where the OS page is the struct's page;
         * a forked child keeps the page and the keys) */
        if (hak_os_page_size() == sizeof hak_secrets)
            hak_os_protect(&hak_secrets, sizeof hak_secrets, HAK_OS_PROT_READ);
        hak_knobs_init();
        hak_pool_init();
        /* from here on, a nested malloc (pthread_* may allocate) works */
        pthread_key_create(&heap_key, thread_exit);
        hak_os_atfork(fork_prepare, fork_parent, fork_child);
        __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
        tl_in_init = 0;
    } else if (!tl_in_init) {
        while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
            sched_yield();
    }
}

void (*hak_refill_hook)(void);

/* The OS refused memory (RLIMIT_AS, the commit limit): the Large cache gives
 * its address space back.  1 when it held some, so trying again may work. */
static int reclaim(void) { return hak_large_release_cache() != 0; }

/* A heap sits between two PROT_NONE guard pages, its end against the rear
 * one: an overflow out of it faults at once.  Heaps are pooled and never
 * unmapped, so the guards stay (and a forked child has them too). */
_Static_assert(sizeof(hak_heap_t) % 64 == 0, "a heap ends where its guard page starts");
static hak_heap_t *heap_map(void) { return hak_os_map_guarded(sizeof(hak_heap_t)); }

static hak_heap_t *heap_create(void)
{
    hak_lock(&heaps_lock, &hak_global_counters);
    hak_heap_t *h = heaps_free;
    if (h)
        heaps_free = h->next_free;
    hak_unlock(&heaps_lock);
    if (!h) {
        h = heap_map();
        if (!h && reclaim())
            h = heap_map();
        if (!h)
            return NULL;
        hak_lock(&heaps_lock, &hak_global_counters);
        h->id = heaps_next_id++;
        h->next_all = heaps_all;
        __atomic_store_n(&heaps_all, h, __ATOMIC_RELEASE);   /* readers walk without the lock */
        hak_unlock(&heaps_lock);
    }
    h->shard = h->id % HAK_SHARDS;
    for (int c = 0; c < HAK_TINY_CLASSES; c++)
        h->spans[c].reserve = HAK_EMPTY_RESERVE;
    __atomic_store_n(&h->live, 1, __ATOMIC_SEQ_CST);
    for (int c = 0; c < HAK_NCLASS; c++) {
        h->base[c] = (uint32_t)c * HAK_MAG_MAX;
        hak_mag_set_count(h, c, 0);
        hak_mag_set_cap(h, c, hak_knobs_effective_cap(c));
    }
    hak_tl_heap = h;
    tl_exited = 0;
    pthread_setspecific(heap_key, h);
    return h;
}

hak_heap_t *hak_heap_get(void)
{
    hak_heap_t *h = hak_tl_heap;
    if (HAK_LIKELY(h != &heap_empty))
        return h;
    hak_init();
    h = hak_tl_heap;   /* a nested call during init may have made it */
    if (h == &heap_empty && !(h = heap_create()))
        return NULL;
    return h;
}

/* The oldest n blocks of class c's magazine leave the thread as a batch:
 * Tiny to the heap's depot or its spans, Mid to the thread's shard. */
static void flush(hak_heap_t *h, int c, uint32_t n)
{
    hak_batch_t b = hak_mag_take_oldest(h, c, n);
    if (hak_is_tiny_class(c))
        hak_tiny_flush(h, c, b);
    else
        hak_pool_flush(h, c, b);
}

void hak_heap_flush_class(hak_heap_t *h, int c)
{
    if (hak_mag_count(h, c))
        flush(h, c, hak_mag_count(h, c));
}

/* Hand every cached block back and give the spans up for adoption. */
static void heap_retire(hak_heap_t *h)
{
    for (int c = HAK_TINY_CLASSES; c < HAK_NCLASS; c++)
        hak_heap_flush_class(h, c);
    hak_tiny_retire(h);   /* the heap is out of use (live = 0) from here */
    for (int c = 0; c < HAK_NCLASS; c++)
        hak_mag_set_cap(h, c, 0);
    hak_lock(&heaps_lock, &hak_global_counters);
    h->next_free = heaps_free;
    heaps_free = h;
    hak_unlock(&heaps_lock);
}

static void thread_exit(void *arg)
{
    hak_heap_t *h = arg;
    hak_tl_heap = &heap_empty;
    tl_exited = 1;
    heap_retire(h);
}

void hak_heap_foreach(void (*fn)(hak_heap_t *, void *), void *arg)
{
    for (hak_heap_t *h = __atomic_load_n(&heaps_all, __ATOMIC_ACQUIRE); h; h = h->next_all)
        fn(h, arg);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&heaps_lock.m);
    for (hak_heap_t *h = heaps_all; h; h = h->next_all)
        hak_spin_lock(&h->lock, &hak_global_counters);
    hak_tiny_lock_all();
    hak_pool_lock_all();
    hak_segment_lock_all();
    hak_large_lock_all();
}

static void fork_parent(void)
{
    hak_large_unlock_all();
    hak_segment_unlock_all();
    hak_pool_unlock_all();
    hak_tiny_unlock_all();
    for (hak_heap_t *h = heaps_all; h; h = h->next_all)
        hak_spin_unlock(&h->lock);
    pthread_mutex_unlock(&heaps_lock.m);
}

/* Only the forking thread exists in the child: the other threads' heaps give
 * their spans up for adoption.  Their magazines may be mid-update, so their
 * cached blocks are dropped (a bounded leak) rather than trusted. */
static void fork_child(void)
{
    hak_large_reinit_locks();
    hak_segment_reinit_locks();
    hak_pool_reinit_locks();
    hak_tiny_reinit_locks();
    hak_lock_reinit(&heaps_lock);
    for (hak_heap_t *h = heaps_all; h; h = h->next_all)
        hak_spin_unlock(&h->lock);
    hak_heap_t *me = hak_tl_heap;
    hak_heap_t *free_list = NULL;
    for (hak_heap_t *h = heaps_all; h; h = h->next_all)
        hak_tiny_atfork_child_heap(h);
    hak_tiny_atfork_child_spans();
    for (hak_heap_t *h = heaps_all; h; h = h->next_all) {
        if (h == me || !h->live)
            continue;
        memcpy(h->top, h->base, sizeof h->top);   /* magazines dropped */
        memset(h->outbox, 0, sizeof h->outbox);
        h->out_mask = 0;
        hak_tiny_retire(h);   /* its depots were under its lock: they go back to the spans */
        memcpy(h->lim, h->base, sizeof h->lim);
        h->next_free = free_list;
        free_list = h;
    }
    /* heaps_free may hold heaps retired before the fork: keep them too */
    while (free_list) {
        hak_heap_t *n = free_list->next_free;
        free_list->next_free = heaps_free;
        heaps_free = free_list;
        free_list = n;
    }
}

/* ---- slow paths ---- */

/* Every slow path ends here: at most once per HAK_RELEASE_PERIOD_NS the
 * thread gives back what its spans (Tiny) and its shard (Mid) no longer use. */
static __attribute__((noinline)) void maintain_pass(hak_heap_t *h)
{
    uint64_t deadline;
    if (!hak_pass_due(&h->next_pass_ns, &deadline))
        return;
    hak_large_decay(deadline);
    if (hak_tiny_maintain(h, deadline))
        hak_pool_maintain(h->shard, deadline, &h->cnt);
}

static inline void maintain(hak_heap_t *h)
{
    if (HAK_UNLIKELY(!(++h->slow_calls & 15)))   /* the clock is read on one slow path in 16 */
        maintain_pass(h);
}

static void refill(hak_heap_t *h, int c)
{
    if (hak_is_tiny_class(c))
        hak_tiny_refill(h, c);
    else
        hak_pool_refill(h, c);
}

#if HAK_SECURE
/* Refills hand blocks out in random order, so the address a request gets
 * cannot be told from the last free (xorshift, seeded per thread). */
static __thread uint64_t tl_rng;

static void shuffle(hak_heap_t *h, int c)
{
    void **it = hak_mag_items(h, c);
    uint32_t n = hak_mag_count(h, c);
    uint64_t x = tl_rng ? tl_rng : (hak_secrets.canary ^ (uintptr_t)h) | 1;
    for (uint32_t i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t j = (uint32_t)((x >> 32) * i >> 32);
        void *t = it[i - 1];
        it[i - 1] = it[j];
        it[j] = t;
    }
    tl_rng = x;
}
#endif

void *hak_malloc_slow(size_t n, uintptr_t c)
{
    if (c == HAK_NCLASS) {
#if HAK_SECURE
        if (n == 0) {
            void *z = hak_zero_alloc(16);
            return z ? z : hak_malloc_fast(1);   /* every slot taken: a 1-byte block */
        }
#endif
        return hak_large_alloc(n, 0, 0);
    }
    hak_heap_t *h = hak_heap_get();
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    if (hak_mag_count(h, c) == 0) {
        /* a layer above hooks itself in here, outside every lock (ACE
         * starts its thread, again in a forked child); one load when unset */
        void (*hook)(void) = __atomic_load_n(&hak_refill_hook, __ATOMIC_ACQUIRE);
        if (hook && !tl_in_init)
            hook();
        refill(h, c);
        if (hak_mag_count(h, c) == 0 && reclaim())
            refill(h, c);   /* a new span may fit now */
        maintain(h);
        if (hak_mag_count(h, c) == 0) {
            errno = ENOMEM;
            return NULL;
        }
#if HAK_SECURE
        shuffle(h, c);
#endif
    }
    return hak_alloc_class(c, n);   /* the magazine has blocks now */
}

/* The heap of a thread's first free: free keeps errno even when no heap can
 * be made (the failed mmap set it). */
static hak_heap_t *heap_for_free(void)
{
    int e = errno;
    hak_heap_t *h = hak_heap_get();
    errno = e;
    return h;
}

/* Not a block start: a Large block, NULL, or bad input. */
static __attribute__((noinline)) void free_not_block(void *p, hak_span_t *sp)
{
#if HAK_SECURE
    if (hak_zero_free(p))
        return;
#endif
    if (!p || (!HAK_SPAN_LIMIT(sp) && hak_large_free(p)))   /* no span here: the page heap, or a mapping */
        return;
    hak_report_invalid("free()", p);
}

/* The magazine is full: the older half goes, the newer (warmer) half stays. */
static __attribute__((noinline)) void free_full(hak_heap_t *h, int c, void *p)
{
    uint32_t n = hak_mag_count(h, c), cap = hak_knobs_effective_cap(c);
    if (n > cap / 2)
        flush(h, c, n - cap / 2);
    hak_mag_set_cap(h, c, cap);
    maintain(h);
    h->slots[h->top[c]++] = p;
}

/* A Tiny block of another heap's span whose outbox holds another span's. */
static __attribute__((noinline)) void free_remote_start(hak_heap_t *h, hak_span_t *sp, void *p)
{
    hak_tiny_outbox_start(h, sp, p);
    maintain(h);   /* flushes the outboxes now and then */
}

/* A checked block into h.  Every call it makes is a tail call, so the common
 * cases save no registers. */
static inline void free_to_heap(hak_heap_t *h, hak_span_t *sp, void *p)
{
    int c = sp->cls;
    HAK_CNT_INC(h->cnt.frees[c]);
    if (hak_is_tiny_class(c) && __atomic_load_n(&sp->owner, __ATOMIC_RELAXED) != h) {
        /* to the span: gathered, then pushed in one chain */
        if (HAK_UNLIKELY(!hak_tiny_outbox_add(h, sp, p))) {
            free_remote_start(h, sp, p);
            return;
        }
        maintain(h);   /* flushes the outboxes now and then */
        return;
    }
    if (HAK_UNLIKELY(h->top[c] >= h->lim[c])) {
        free_full(h, c, p);
        return;
    }
    h->slots[h->top[c]++] = p;
}

/* A thread on the static empty heap: its heap, made now if need be; without
 * one (handed back already, as other TLS destructors free, or out of memory)
 * the block goes straight to its span or shard. */
static __attribute__((noinline)) void free_no_heap(void *p, hak_span_t *sp)
{
    hak_heap_t *h;
    if (!tl_exited && (h = heap_for_free())) {
        free_to_heap(h, sp, p);
        return;
    }
    int c = sp->cls;
    hak_cnt_add(&hak_global_counters, &hak_global_counters.frees[c], 1);
    if (hak_is_tiny_class(c))
        hak_tiny_free_orphan(sp, p);
    else
        hak_pool_free_direct(sp, p);
}

/* Every reason free() left its fast path, told apart. */
void hak_free_slow(void *p, hak_span_t *sp)
{
    uintptr_t a = (uintptr_t)p;
    if (HAK_UNLIKELY(!hak_span_is_block(sp, a))) {
        free_not_block(p, sp);
        return;
    }
#if HAK_SECURE
    uint16_t *e = hak_block_slack(sp, a);
    if (HAK_UNLIKELY(*e == 0))
        hak_report_free_block("free()", p);
    hak_block_retire(p, e, sp->bsize, "free()");
#else
    uintptr_t mark = a ^ hak_secrets.free_mark;
    if (HAK_UNLIKELY(((uintptr_t *)p)[1] == mark))
        hak_report_double("free()", p);
    ((uintptr_t *)p)[1] = mark;
#endif
    hak_heap_t *h = hak_tl_heap;
    if (HAK_UNLIKELY(h == &heap_empty)) {
        free_no_heap(p, sp);
        return;
    }
    free_to_heap(h, sp, p);
}
