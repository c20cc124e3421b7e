/* The page heap: Large blocks below HAK_PH_MAX are carved in 4 KiB pages from
 * regions, 2 MiB aligned mappings whose size grows with the heap (4 to
 * 256 MiB).  A freed range joins its free neighbours by address, whatever
 * blocks they were, and a request of any size takes the best-fitting free
 * range, so a program that replaces buffers of different sizes reuses warm
 * pages.  Free ranges stay resident until they have been free for the decay
 * (HAKMEM_LARGE_DECAY_MS) or the resident free bytes pass the bound
 * (HAKMEM_LARGE_CACHE_MB, or the live bytes if more); then a pass on a later
 * Large call or maintenance pass purges them
 * (MADV_DONTNEED), and unmaps regions that are wholly free and purged.
 *
 * Every 64 KiB page of a region maps (page map) to the region's descriptor,
 * a span with limit 0 (marked `pageheap`), so free's fast path fails
 * its block test and the slow path finds the region with the same lookup as
 * for any block.  free itself takes no lock: a bit per page marks where live
 * blocks start (cleared with one atomic and, so a double free or an interior
 * pointer is refused), and the freed block is pushed on a lock-free list that
 * the next call under the lock joins into the free ranges. */
#ifndef HAK_PAGE_HEAP_H
#define HAK_PAGE_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_segment.h"

/* Blocks from here on keep a mapping of their own (grown with mremap).
 * large_churn's 300 KiB - 4 MiB and large_replace's 5 - 25 MiB are below it. */
#define HAK_PH_MAX ((size_t)32 << 20)

extern uint64_t hak_pageheap_mapped_bytes;   /* bytes of regions mapped */
/* Bytes of live Large blocks, of the page heap and of their own mappings:
 * the page heap's bound grows with it, hakmem_large.c keeps it. */
extern uint64_t hak_large_live_bytes;

static inline int hak_pageheap_owns(const hak_span_t *sp) { return sp->pageheap; }
/* Free bytes not yet purged, those freed since the last call included. */
uint64_t hak_pageheap_free_bytes(void);

/* len: a multiple of 4 KiB, len + align <= HAK_PH_MAX; align 0 or a power of
 * two.  zero: the block must read as zeros.  NULL when no region can be
 * mapped (errno left to the caller). */
void  *hak_pageheap_alloc(size_t len, size_t align, int zero);
/* sp: p's page-map entry (hak_pageheap_owns).  Bytes freed, 0 when p is not
 * the start of a live block. */
size_t hak_pageheap_free(hak_span_t *sp, void *p);
/* Length of the live block at p, 0 if there is none. */
size_t hak_pageheap_usable(const hak_span_t *sp, const void *p);
/* Resize the live block at p to len bytes in place: a shrink frees the tail,
 * a growth takes the free range after the block.  1 when done, 0 when it
 * cannot grow in place. */
int    hak_pageheap_resize(hak_span_t *sp, void *p, size_t len);
/* Move the live block at p into a mapping of its own of len bytes, a
 * multiple of align (mremap: no copy).  The range it leaves is mapped again
 * (MAP_FIXED_NOREPLACE) and freed.  When another mapping got there first
 * (mmap may place any mapping in the hole meanwhile) the range stays out of
 * use: a pointer into it is no block start here, and the caller asks its
 * registry of mappings.  The new address, or NULL (the block is untouched). */
void  *hak_pageheap_move_out(hak_span_t *sp, void *p, size_t len, size_t align);
/* Is a purge pass due: every quarter of the decay (at least 10 ms apart; the
 * caller that gets 1 runs it), or at once while the free bytes are over the
 * bound. */
int    hak_pageheap_pass_due(uint64_t now);
/* A purge pass: ranges free for longer than the decay, then the oldest while
 * the resident free bytes are over the bound, go back to the OS; wholly free
 * regions purged by an earlier pass are unmapped.  all: every free range and
 * every wholly free region.  Returns the pages given back. */
size_t hak_pageheap_purge(uint64_t now, int all);
/* The bound on resident free bytes (mallopt(M_TRIM_THRESHOLD)); UINT64_MAX:
 * HAKMEM_LARGE_CACHE_MB. */
void   hak_pageheap_set_bound(uint64_t bytes);

void   hak_pageheap_lock(void);
void   hak_pageheap_unlock(void);
void   hak_pageheap_reinit_lock(void);

#endif
