/* The per-thread heap and the malloc/free fast paths.
 * malloc: one pop from the thread's magazine array for the size class.
 * free:   segment bitmap -> span -> one folded validity test -> double-free
 *         mark test -> owner test (Tiny) -> push onto the magazine.
 * Every other case (empty or full magazine, a thread without a heap, Large,
 * bad pointers) goes to one noinline slow path.  Threads start on a static
 * empty heap whose magazines have capacity 0, so the fast path never asks
 * whether the thread is initialised. */
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_size_class.h"
#include "hakmem_segment.h"
#include "hakmem_stats.h"
#include "hakmem_lock.h"

#define HAK_SHARDS 8
#define HAK_OUTBOX 32     /* Tiny blocks of other heaps gathered before they go to their owners */

typedef struct hak_remote_queue {
    void *head;        /* blocks linked through their first word (atomic) */
    uint64_t n;        /* backlog (atomic) */
} __attribute__((aligned(64))) hak_remote_queue_t;

typedef struct hak_heap hak_heap_t;
struct hak_heap {
    /* fast path */
    uint32_t count[HAK_NCLASS];
    uint32_t cap[HAK_NCLASS];
    hak_counters_t cnt;
    void *items[HAK_NCLASS][HAK_MAG_MAX];
    /* slow path, under lock */
    hak_spin_t lock;
    uint32_t id, shard, live;
    hak_span_lists_t spans[HAK_TINY_CLASSES];   /* Tiny spans this heap owns */
    uint64_t next_pass_ns;                      /* next maintenance pass (hak_spans_maintain) */
    uint32_t slow_calls;                        /* slow paths since the clock was last read */
    uint32_t nout[HAK_TINY_CLASSES];            /* remote frees waiting in the outbox */
    void *outbox[HAK_TINY_CLASSES][HAK_OUTBOX];
    hak_heap_t *next_all, *next_free;
    /* written by other threads */
    hak_remote_queue_t remote[HAK_TINY_CLASSES];
};

#define HAK_HIDDEN __attribute__((visibility("hidden")))   /* PC-relative access, no GOT */
extern __thread hak_heap_t *hak_tl_heap HAK_HIDDEN;
extern uintptr_t hak_secret HAK_HIDDEN;  /* mark of a free block: word[1] == addr ^ secret */

void *hak_malloc_slow(size_t n);
void  hak_free_slow(void *p);

static inline void *hak_malloc_fast(size_t n)
{
    unsigned c;
    if (HAK_LIKELY(n <= HAK_TINY_MAX))
        c = hak_tiny_class_of[(n + 15) >> 4];
    else if (HAK_LIKELY(n <= HAK_MID_MAX))
        c = hak_size_class(n);
    else
        return hak_malloc_slow(n);
    hak_heap_t *h = hak_tl_heap;
    uintptr_t k = h->count[c];
    if (HAK_UNLIKELY(k == 0))
        return hak_malloc_slow(n);
    void *p = h->items[c][k - 1];
    h->count[c] = (uint32_t)k - 1;
    ((uintptr_t *)p)[1] = 0;
    HAK_CNT_INC(h->cnt.allocs[c]);
    return p;
}

static inline void hak_free_fast(void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (HAK_UNLIKELY(!hak_segmap_has(a)))
        goto slow;
    hak_span_t *sp = hak_span_of(a);
    if (HAK_UNLIKELY(!hak_span_is_block(sp, a)))
        goto slow;
    uintptr_t mark = a ^ hak_secret;
    if (HAK_UNLIKELY(((uintptr_t *)p)[1] == mark))
        goto slow;
    uintptr_t c = sp->cls;
    hak_heap_t *h = hak_tl_heap;
    /* a Tiny block of another thread's span goes to its owner (slow path):
     * reusing it here would put two threads on one cache line */
    if (HAK_UNLIKELY(__atomic_load_n(&sp->owner, __ATOMIC_RELAXED) != h) && c < HAK_TINY_CLASSES)
        goto slow;
    uintptr_t k = h->count[c];
    if (HAK_UNLIKELY(k >= h->cap[c]))
        goto slow;
    ((uintptr_t *)p)[1] = mark;
    h->items[c][k] = p;
    h->count[c] = (uint32_t)k + 1;
    HAK_CNT_INC(h->cnt.frees[c]);
    return;
slow:
    hak_free_slow(p);
}

/* Slow-path pieces shared by the files of the core. */
hak_heap_t *hak_heap_get(void);                  /* this thread's heap, created on demand */
void hak_heap_foreach(void (*fn)(hak_heap_t *, void *), void *arg);

/* Tiny (hakmem_tiny_magazine.c) */
void hak_tiny_refill(hak_heap_t *h, int c);
void hak_tiny_flush(hak_heap_t *h, int c, uint32_t keep);
void hak_tiny_outbox_flush(hak_heap_t *h, int c);
void hak_tiny_free_direct(hak_span_t *sp, void *p);   /* a thread without a heap */
void hak_tiny_retire(hak_heap_t *h);
int  hak_tiny_maintain(hak_heap_t *h, uint64_t deadline);
void hak_tiny_lock_all(void);
void hak_tiny_unlock_all(void);
void hak_tiny_reinit_locks(void);
size_t hak_tiny_release(hak_heap_t *h, int empty_only, uint32_t pages_per_span, uint64_t deadline, hak_counters_t *cnt);
size_t hak_tiny_release_abandoned(int empty_only, uint32_t pages_per_span, uint64_t deadline);

/* Mid (hakmem_pool.c) */
void hak_pool_init(void);
void hak_pool_refill(hak_heap_t *h, int c);
void hak_pool_flush(hak_heap_t *h, int c, uint32_t keep);
int  hak_pool_maintain(uint32_t shard, uint64_t deadline, hak_counters_t *cnt);
void hak_pool_free_direct(hak_span_t *sp, void *p);
void hak_pool_lock_all(void);
void hak_pool_unlock_all(void);
void hak_pool_reinit_locks(void);
size_t hak_pool_release(int empty_only, uint32_t pages_per_span, uint64_t deadline);

/* Bad input */
void hak_report_invalid(const char *call, const void *p) __attribute__((noreturn, cold));
void hak_report_double(const char *call, const void *p) __attribute__((noreturn, cold));

#endif
