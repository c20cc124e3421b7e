/* Large blocks (> HAK_MID_MAX, blocks realloc grows past the border, and
 * alignments spans cannot give).  Below HAK_PH_MAX they come from the page
 * heap (hakmem_page_heap.h).  From there on, and for blocks realloc has
 * grown out of the page heap, each is a mapping or a piece of one, found
 * through a registry (a hash table of live blocks) since mremap may move
 * them anywhere; freed ones stay resident in a cache for
 * HAKMEM_LARGE_DECAY_MS and up to HAKMEM_LARGE_CACHE_MB, joined with freed
 * neighbours of their mapping, and a block grows into the cached piece after
 * it without a system call.  Older pieces are unmapped by the next large call
 * or maintenance pass after the decay, or by a release pass. */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_counters.h"

extern uint64_t hak_large_live_count;    /* live large blocks */
extern uint64_t hak_large_cached_bytes;  /* resident bytes of cached freed pieces */

/* align: 0 or a power of two; zero: the block must read as zeros (calloc). */
void  *hak_large_alloc(size_t size, size_t align, int zero);
/* A block of its own mapping whatever its size: realloc's growth past the
 * Mid border, whose next steps are then mremap, not copies. */
void  *hak_large_alloc_mapping(size_t size);
/* 1 if p was a live large block (now freed), 0 if hakmem never gave it out. */
int    hak_large_free(void *p);
/* 1 while the live large blocks are few enough for one more mapping: a
 * quarter of vm.max_map_count (the rest is the program's). */
int    hak_large_room(void);
/* Usable size of a live large block, 0 if p is not one. */
size_t hak_large_usable(const void *p);
#if HAK_SECURE
/* The size a live Large block was asked for (0 too), SIZE_MAX if p is not
 * one; a tail written over aborts naming call. */
size_t hak_large_request(const void *p, const char *call);
/* The live Large block p holds n bytes from now on, in place: 1 when n fits
 * its pages and uses at least half of them, else 0 (it must move). */
int    hak_large_set_request(void *p, size_t n);
#endif
/* Resize a live large block: shrinking leaves the tail as a freed piece,
 * growing takes the cached piece after the block or calls mremap (no lock
 * held).  NULL + errno on failure; the old block is then untouched. */
void  *hak_large_resize(void *p, size_t size);
/* Give back cached pieces and page heap ranges freed more than the decay
 * before now / all of them and every wholly free region; both return the
 * pages given back. */
size_t hak_large_decay(uint64_t now);
/* Bytes the cache may hold (replaces HAKMEM_LARGE_CACHE_MB), and the length
 * from which a freed piece is unmapped at once instead of cached. */
void   hak_large_set_cache_bytes(uint64_t bytes);
void   hak_large_set_unmap_from(uint64_t bytes);
size_t hak_large_release_cache(void);

void   hak_large_lock_all(void);
void   hak_large_unlock_all(void);
void   hak_large_reinit_locks(void);

#endif
