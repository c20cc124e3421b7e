/* Tiny (<= 1 KiB) slow paths: magazine refill and flush, remote frees to
 * their spans, abandoned spans, release (see hakmem_tiny_magazine.c). */
#ifndef HAK_TINY_MAGAZINE_H
#define HAK_TINY_MAGAZINE_H

#include "hakmem_tcache.h"

void hak_tiny_refill(hak_heap_t *h, int c);
/* A batch leaves the thread: into the heap's depot, or back to its spans. */
void hak_tiny_flush(hak_heap_t *h, int c, hak_batch_t b);
/* A Tiny block of a span h does not own: gathered in h's outbox of its class
 * while consecutive frees are bound for the same span, then pushed onto the
 * span's remote list in one chain.  hak_tiny_outbox_add appends when the
 * outbox holds sp's blocks and has room (else 0); hak_tiny_outbox_start
 * pushes the outbox and starts it again with p. */
void hak_tiny_outbox_start(hak_heap_t *h, hak_span_t *sp, void *p);
static inline int hak_tiny_outbox_add(hak_heap_t *h, hak_span_t *sp, void *p)
{
    hak_outbox_t *o = &h->outbox[sp->cls];
    if (HAK_UNLIKELY(o->span != sp || o->n == HAK_OUTBOX))
        return 0;
    hak_link_set(p, o->head);
    o->head = p;
    o->n++;
    return 1;
}
static inline void hak_tiny_free_remote(hak_heap_t *h, hak_span_t *sp, void *p)
{
    if (!hak_tiny_outbox_add(h, sp, p))
        hak_tiny_outbox_start(h, sp, p);
}
/* The same for a thread without a heap: one push per block. */
void hak_tiny_free_orphan(hak_span_t *sp, void *p);
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

#endif
