/* Large blocks (> HAK_MID_MAX, or alignments spans cannot give): one mapping
 * each, found through a registry (a hash table of live mappings) since mremap
 * may move them anywhere.  Freed mappings are cached with their pages already
 * given back, so reuse skips mmap/munmap without holding memory. */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_counters.h"

extern uint64_t hak_large_live_bytes;    /* bytes of live large mappings */

void  *hak_large_alloc(size_t size, size_t align);   /* align: 0 or a power of two */
/* 1 if p was a live large block (now freed), 0 if hakmem never gave it out. */
int    hak_large_free(void *p);
/* Usable size of a live large block, 0 if p is not one. */
size_t hak_large_usable(const void *p);
/* Resize a live large block with mremap (NULL + errno on failure; the old
 * block is then untouched). */
void  *hak_large_resize(void *p, size_t size);
/* Unmap cached mappings; returns pages (their address space) dropped. */
size_t hak_large_release_cache(uint64_t deadline);
void   hak_large_lock_all(void);
void   hak_large_unlock_all(void);
void   hak_large_reinit_locks(void);

#endif
