/* The per-thread heap and the malloc/free fast paths.
 * malloc: one pop from the thread's magazine array for the size class.
 * free:   page map -> span, then one branch on the OR of every reason to
 *         leave the fast path (not a block start, a block that looks free,
 *         a Tiny block of another heap's span, a full magazine), then a push
 *         onto the magazine.
 * Every other case goes to one noinline slow path.  Threads start on a static
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
#define HAK_OUTBOX 32     /* remote frees gathered for one span before they are pushed */

/* Remote frees bound for one span, chained through their first word. */
typedef struct hak_outbox {
    hak_span_t *span;
    void *head, *tail;
    uint32_t n;
} hak_outbox_t;

typedef struct hak_heap hak_heap_t;
struct hak_heap {
    /* fast path: class c's magazine is slots[base[c] .. top[c]), with room up
     * to lim[c] = base[c] + capacity; absolute slot indices make a pop or a
     * push one indexed access.  The static empty heap has all three 0: every
     * magazine is empty and full at once. */
    uint32_t top[HAK_NCLASS];
    uint32_t lim[HAK_NCLASS];
    uint32_t base[HAK_NCLASS];   /* c * HAK_MAG_MAX */
    hak_counters_t cnt;
    void *slots[HAK_NCLASS * HAK_MAG_MAX];
    /* slow path; spans and watch lists under lock */
    hak_spin_t lock;
    uint32_t id, shard;
    uint32_t live;                              /* in use by a thread (read by remote freers) */
    hak_span_lists_t spans[HAK_TINY_CLASSES];   /* Tiny spans this heap owns */
    hak_span_t *watch[HAK_TINY_CLASSES];        /* owned spans with remote frees not collected yet */
    uint64_t next_pass_ns;                      /* next maintenance pass (hak_spans_maintain) */
    uint32_t slow_calls;                        /* slow paths since the clock was last read */
    uint32_t out_mask;                          /* classes whose outbox holds blocks */
    hak_outbox_t outbox[HAK_TINY_CLASSES];
    hak_heap_t *next_all, *next_free;
    /* written by other threads: spans that got remote frees, pushed by the
     * freer whose push found the span not queued, taken whole by the owner */
    hak_span_t *inbox __attribute__((aligned(64)));
};

#define HAK_HIDDEN __attribute__((visibility("hidden")))   /* PC-relative access, no GOT */
extern __thread hak_heap_t *hak_tl_heap HAK_HIDDEN;
extern uintptr_t hak_secret HAK_HIDDEN;  /* mark of a free block: word[1] == addr ^ secret */
extern const uintptr_t hak_zero_words[2] HAK_HIDDEN;   /* read instead of a foreign pointer */

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
    uintptr_t k = h->top[c];
    if (HAK_UNLIKELY(k == h->base[c]))
        return hak_malloc_slow(n);
    void *p = h->slots[k - 1];
    h->top[c] = (uint32_t)k - 1;
    ((uintptr_t *)p)[1] = 0;
    HAK_CNT_INC(h->cnt.allocs[c]);
    return p;
}

static inline void hak_free_fast(void *p)
{
    uintptr_t a = (uintptr_t)p;
    const hak_span_t *sp = hak_span_of(a);
    hak_heap_t *h = hak_tl_heap;
    uintptr_t c = sp->cls;
    uint64_t off = a - sp->start;
    uintptr_t k = h->top[c];
    uintptr_t mark = a ^ hak_secret;
    uintptr_t bad = (off >= sp->limit) | (off * sp->div_magic >= sp->div_magic);
    /* the mark word is read only inside a span: never at a foreign address */
    const uintptr_t *w = bad ? hak_zero_words : (const uintptr_t *)p;
    bad |= w[1] == mark;
    /* a Tiny block of another heap's span goes to its span (slow path):
     * reusing it here would put two threads on one cache line */
    bad |= ((((uintptr_t)__atomic_load_n(&sp->owner, __ATOMIC_RELAXED) ^ (uintptr_t)h) & sp->owner_mask) != 0);
    bad |= k >= h->lim[c];
    if (HAK_UNLIKELY(bad)) {
        hak_free_slow(p);
        return;
    }
    ((uintptr_t *)p)[1] = mark;
    h->slots[k] = p;
    h->top[c] = (uint32_t)k + 1;
    HAK_CNT_INC(h->cnt.frees[c]);
}

/* Magazine accessors for the slow paths. */
static inline uint32_t hak_mag_count(const hak_heap_t *h, int c) { return h->top[c] - h->base[c]; }
static inline void   **hak_mag_items(hak_heap_t *h, int c) { return &h->slots[h->base[c]]; }
static inline void     hak_mag_set_count(hak_heap_t *h, int c, uint32_t n) { h->top[c] = h->base[c] + n; }
static inline void     hak_mag_set_cap(hak_heap_t *h, int c, uint32_t cap) { h->lim[c] = h->base[c] + cap; }
static inline uint32_t hak_mag_cap(const hak_heap_t *h, int c) { return h->lim[c] - h->base[c]; }

/* Slow-path pieces shared by the files of the core. */
void hak_init(void);                             /* once; nested calls during it proceed */
hak_heap_t *hak_heap_get(void);                  /* this thread's heap, created on demand */
/* Set by a layer above the core (ACE) to be called on refill slow paths,
 * outside every lock and never during initialisation. */
extern void (*hak_refill_hook)(void);
void hak_heap_foreach(void (*fn)(hak_heap_t *, void *), void *arg);

/* Tiny (hakmem_tiny_magazine.c) */
void hak_tiny_refill(hak_heap_t *h, int c);
void hak_tiny_flush(hak_heap_t *h, int c, uint32_t keep);
/* A Tiny block of a span h does not own (h NULL: a thread without a heap). */
void hak_tiny_free_remote(hak_heap_t *h, hak_span_t *sp, void *p);
void hak_tiny_outbox_flush_all(hak_heap_t *h);
void hak_tiny_retire(hak_heap_t *h);
void hak_tiny_atfork_child_heap(hak_heap_t *h);
void hak_tiny_atfork_child_spans(void);
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
