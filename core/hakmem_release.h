/* Release passes over the whole allocator, for the callers that want memory
 * back now: ACE's budgeted scavenge (in slices with a deadline) and
 * malloc_trim (hak_release_free_memory: everything).  The free slow path does
 * not come here: it releases in small bounded steps of its own, when a block
 * returns to a sparse span and in its heap's maintenance pass (hakmem_span.c). */
#ifndef HAK_RELEASE_H
#define HAK_RELEASE_H

#include <stdint.h>
#include <stddef.h>

/* Monotonic clock in ns (vDSO clock_gettime; slow paths only). */
uint64_t hak_now_ns(void);

/* Release whole empty spans kept as reserves (per heap and per central shard)
 * and cached large pieces past their decay, until done or now >= deadline_ns.
 * Returns 4 KiB pages released. */
size_t hak_release_empty(uint64_t deadline_ns);

/* Release up to pages_per_span free OS pages inside each partly used span,
 * until done or now >= deadline_ns.  Returns 4 KiB pages released. */
size_t hak_release_partial(uint32_t pages_per_span, uint64_t deadline_ns);

/* Hand the calling thread's magazines and outboxes back to the spans and
 * central lists (so a release can give their pages back). */
void hak_release_own_caches(void);

#endif
