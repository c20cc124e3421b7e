/* A thread's cache: its magazines, the Tiny spans it owns, its outboxes of
 * remote frees and its inbox.  The type the Tiny and Mid slow paths work on;
 * the heap layer (hakmem_heap.{h,c}) gives each thread one. */
#ifndef HAK_TCACHE_H
#define HAK_TCACHE_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_size_class.h"
#include "hakmem_segment.h"
#include "hakmem_counters.h"
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

/* Magazine accessors for the slow paths. */
static inline uint32_t hak_mag_count(const hak_heap_t *h, int c) { return h->top[c] - h->base[c]; }
static inline void   **hak_mag_items(hak_heap_t *h, int c) { return &h->slots[h->base[c]]; }
static inline void     hak_mag_set_count(hak_heap_t *h, int c, uint32_t n) { h->top[c] = h->base[c] + n; }
static inline void     hak_mag_set_cap(hak_heap_t *h, int c, uint32_t cap) { h->lim[c] = h->base[c] + cap; }

#endif
