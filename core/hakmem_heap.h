/* The per-thread heap and the malloc/free fast paths.
 * malloc: one pop from the thread's magazine array for the size class.
 * free:   page map -> span, then one branch on the OR of every reason to
 *         leave the fast path (not a block start, a block that looks free
 *         (default: its mark word; secure: its size map entry),
 *         a Tiny block of another heap's span, a full magazine), then a push
 *         onto the magazine.
 * Every other case goes to one noinline slow path.  Threads start on a static
 * empty heap whose magazines have capacity 0, so the fast path never asks
 * whether the thread is initialised. */
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_tcache.h"
#include "hakmem_tiny_magazine.h"
#include "hakmem_pool.h"
#include "hakmem_report.h"
#include "hakmem_secure.h"

extern __thread hak_heap_t *hak_tl_heap HAK_HIDDEN;

/* c: the class the fast path chose, HAK_NCLASS for a Large (or, secure,
 * zero-size) request */
void *hak_malloc_slow(size_t n, uintptr_t c);
/* sp: the span the fast path found for p (a remote free looks it up once) */
void  hak_free_slow(void *p, hak_span_t *sp);

/* A block of class c for a request of n bytes (n + HAK_SLACK <= its size). */
static inline void *hak_alloc_class(uintptr_t c, size_t n)
{
    hak_heap_t *h = hak_tl_heap;
    uintptr_t k = h->top[c];
    if (HAK_UNLIKELY(k == h->base[c]))
        return hak_malloc_slow(n, c);
    void *p = h->slots[k - 1];
    h->top[c] = (uint32_t)k - 1;
#if HAK_SECURE
    hak_block_hand_out(hak_span_of((uintptr_t)p), p, n);
#else
    ((uintptr_t *)p)[1] = 0;
#endif
    HAK_CNT_INC(h->cnt.allocs[c]);
    return p;
}

static inline void *hak_malloc_fast(size_t n)
{
    uintptr_t c;
#if HAK_SECURE
    /* 1 .. max - 1 bytes (a byte of slack past the request); 0 is a zero-size block */
    if (HAK_LIKELY(n - 1 < HAK_TINY_MAX - 1))
        c = hak_tiny_class_of[(n + HAK_SLACK + 15) >> 4];
    else if (HAK_LIKELY(n - 1 < HAK_MID_MAX - 1))
        c = hak_size_class(n + HAK_SLACK);
#else
    if (HAK_LIKELY(n <= HAK_TINY_MAX))
        c = hak_tiny_class_of[(n + 15) >> 4];
    else if (HAK_LIKELY(n <= HAK_MID_MAX))
        c = hak_size_class(n);
#endif
    else
        return hak_malloc_slow(n, HAK_NCLASS);
    return hak_alloc_class(c, n);
}

static inline void hak_free_fast(void *p)
{
    uintptr_t a = (uintptr_t)p;
    hak_span_t *sp = hak_span_of(a);
    hak_heap_t *h = hak_tl_heap;
    uintptr_t c = sp->cls;
    uint64_t off = a - sp->start;
    uintptr_t k = h->top[c];
    uintptr_t bad = (off >= HAK_SPAN_LIMIT(sp)) | (off * sp->div_magic >= sp->div_magic);
    /* the free mark is read only inside a span: never at a foreign address
     * (the all-zero leaf of the page map is read instead) */
#if HAK_SECURE
    uint16_t *e = bad ? (uint16_t *)hak_pagemap_zero : hak_block_slack(sp, a);
    bad |= *e == 0;
#else
    uintptr_t mark = a ^ hak_secrets.free_mark;
    const uintptr_t *w = bad ? hak_pagemap_zero : (const uintptr_t *)p;
    bad |= w[1] == mark;
#endif
    /* a Tiny block of another heap's span goes to its span (slow path):
     * reusing it here would put two threads on one cache line */
    bad |= ((((uintptr_t)__atomic_load_n(&sp->owner, __ATOMIC_RELAXED) ^ (uintptr_t)h) & sp->owner_mask) != 0);
    bad |= k >= h->lim[c];
    if (HAK_UNLIKELY(bad)) {
        hak_free_slow(p, sp);
        return;
    }
#if !HAK_SECURE
    ((uintptr_t *)p)[1] = mark;
#endif
    h->slots[k] = p;
    h->top[c] = (uint32_t)k + 1;
    HAK_CNT_INC(h->cnt.frees[c]);
#if HAK_SECURE
    /* last: the heap's registers are free by now (a failed check aborts) */
    hak_block_retire(p, e, sp->bsize, "free()");
#endif
}

/* Slow-path pieces shared by the files of the core. */
void hak_init(void);                             /* once; nested calls during it proceed */
hak_heap_t *hak_heap_get(void);                  /* this thread's heap, created on demand */
/* Set by a layer above the core (ACE) to be called on refill slow paths,
 * outside every lock and never during initialisation. */
extern void (*hak_refill_hook)(void);
/* Class c's magazine leaves the thread (thread exit, release of its own caches). */
void hak_heap_flush_class(hak_heap_t *h, int c);
void hak_heap_foreach(void (*fn)(hak_heap_t *, void *), void *arg);

#endif
