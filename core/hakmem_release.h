/* Giving memory back to the OS.  The same functions serve the free slow path
 * (ACE off: small bounded steps) and ACE's budgeted scavenge (deadline). */
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

/* Unmap every cached freed large block, whatever its age (for an idle
 * program: nothing is about to reuse them).  Returns 4 KiB pages released. */
size_t hak_release_large_cache(void);

/* Release up to pages_per_span free OS pages inside each partly used span,
 * until done or now >= deadline_ns.  Returns 4 KiB pages released. */
size_t hak_release_partial(uint32_t pages_per_span, uint64_t deadline_ns);

/* Hand the calling thread's magazines and outboxes back to the spans and
 * central lists (so a release can give their pages back). */
void hak_release_own_caches(void);

#endif
