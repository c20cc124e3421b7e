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
#include "hakmem_secure.h"

#define HAK_SHARDS 8
#define HAK_OUTBOX 32     /* remote frees gathered for one span before they are pushed */

/* Remote frees bound for one span, chained through their links. */
typedef struct hak_outbox {
    hak_span_t *span;
    void *head, *tail;
    uint32_t n;
} hak_outbox_t;

/* A batch: blocks linked (hak_link_set), NULL-terminated, and
 * their count.  Blocks leave a thread's magazine for the shared level (a
 * heap's Tiny depot, a Mid shard's depot) as batches, which the shared level
 * keeps and hands out whole: one store per block to link a batch, one load to
 * unpack it, and no span bitmap on the way. */
typedef struct hak_batch {
    void *head;
    uint32_t n;
} hak_batch_t;

#define HAK_DEPOT_MAX 64   /* batches one depot keeps */

/* Full batches kept for the next refill, under their owner's lock (the heap's
 * for Tiny, the shard's for Mid); taken newest first. */
typedef struct hak_depot {
    hak_batch_t b[HAK_DEPOT_MAX];
    uint32_t nb, blocks;
    uint32_t took;    /* blocks taken since the last maintenance pass */
    uint32_t demand;  /* blocks taken in the last whole period (Tiny: its bound) */
} hak_depot_t;

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
    /* slow path; spans, depots and watch lists under lock */
    hak_spin_t lock;
    uint32_t id, shard;
    uint32_t live;                              /* in use by a thread (read by remote freers) */
    hak_depot_t depot[HAK_TINY_CLASSES];        /* Tiny batches flushed, kept for the next refill */
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

/* Link n blocks (n >= 1) into a batch. */
static inline hak_batch_t hak_batch_link(void *const *blocks, uint32_t n)
{
    for (uint32_t i = 0; i + 1 < n; i++)
        hak_link_set(blocks[i], blocks[i + 1]);
    hak_link_set(blocks[n - 1], NULL);
    return (hak_batch_t){ blocks[0], n };
}

/* The oldest n blocks of class c's magazine leave it as a batch (n >= 1). */
static inline hak_batch_t hak_mag_take_oldest(hak_heap_t *h, int c, uint32_t n)
{
    void **it = hak_mag_items(h, c);
    uint32_t keep = hak_mag_count(h, c) - n;
    hak_batch_t b = hak_batch_link(it, n);
    __builtin_memmove(it, it + n, keep * sizeof(void *));
    hak_mag_set_count(h, c, keep);
    return b;
}

/* A batch onto class c's magazine, newest block on top (room is the caller's). */
static inline void hak_mag_put_batch(hak_heap_t *h, int c, hak_batch_t b)
{
    void **out = &h->slots[h->top[c]];
    for (void *p = b.head; p; p = hak_link_get(p))
        *out++ = p;
    h->top[c] += b.n;
}

/* Keep b unless that would take the depot past max_blocks (or its slots). */
static inline int hak_depot_put(hak_depot_t *d, hak_batch_t b, uint32_t max_blocks)
{
    if (d->nb == HAK_DEPOT_MAX || d->blocks + b.n > max_blocks)
        return 0;
    d->b[d->nb++] = b;
    d->blocks += b.n;
    return 1;
}

/* Whole batches from d (its owner's lock held), newest first, until `want`
 * blocks; room bounds the total.  A batch bigger than room (flushed before a
 * knob shrank the magazine) is cut, its rest stays.  Returns the number of
 * batches in out[] (HAK_DEPOT_MAX at most); unpack them after the unlock. */
static inline uint32_t hak_depot_take_into(hak_depot_t *d, hak_batch_t *out, uint32_t want, uint32_t room)
{
    uint32_t k = 0, n = 0;
    while (d->nb && n < want) {
        hak_batch_t *top = &d->b[d->nb - 1];
        if (n + top->n > room) {
            if (n || !room)
                break;
            void *q = top->head;
            for (uint32_t i = 1; i < room; i++)
                q = hak_link_get(q);
            out[k++] = (hak_batch_t){ top->head, room };
            *top = (hak_batch_t){ hak_link_get(q), top->n - room };
            hak_link_set(q, NULL);
            d->blocks -= room;
            d->took += room;
            break;
        }
        n += top->n;
        out[k++] = *top;
        d->nb--;
        d->blocks -= top->n;
        d->took += top->n;
    }
    return k;
}

/* The newest batch, or an empty one (to give back: not counted as taken). */
static inline hak_batch_t hak_depot_take(hak_depot_t *d)
{
    if (!d->nb)
        return (hak_batch_t){ NULL, 0 };
    hak_batch_t b = d->b[--d->nb];
    d->blocks -= b.n;
    return b;
}

#endif
