/* realloc (seed phase 4): in place when the block's class has room, mremap for
 * Large blocks, a copy otherwise.  Policy and measurements: docs/REALLOC.md.
 *
 *   Tiny/Mid (a block's size is its span's class, sp->bsize):
 *     n <= bsize and n >= bsize/2  -> in place (a shrink to half keeps the block)
 *     n <  bsize/2                 -> move down to the class of n (copy n bytes)
 *     n >  bsize                   -> move up; a small step (n < 2*bsize) gets
 *                                     headroom (2 x bsize, capped at Mid) so
 *                                     string building moves once per doubling,
 *                                     not once per 1.25x class step
 *     n >= HAK_REALLOC_BORDER      -> move into a Large block (then no copies)
 *   Large (a mapping, or a piece of one):
 *     growth                       -> into the cached piece after the block (no
 *                                     system call), else mremap (MREMAP_MAYMOVE:
 *                                     page tables move, no byte is copied); a
 *                                     small step gets 1/8 headroom
 *     shrink by < 1/8 of the block -> in place, no system call
 *     larger shrink                -> in place, the tail a freed piece (cached
 *                                     warm, or unmapped when bigger than the cache)
 *     shrink to n < border/2, <= 1/2 -> move into a Mid/Tiny block (copy n bytes)
 *
 * The copy of a moving block is hak_realloc_copy: memcpy below
 * HAK_NT_COPY_MIN, non-temporal stores above (only reachable on the Large
 * fallback copy: every other move copies at most HAK_MID_MAX bytes). */
#ifndef HAK_ACE_REALLOC_H
#define HAK_ACE_REALLOC_H

#include <stddef.h>

/* Copies of at least this many bytes use non-temporal stores (measured on the
 * build machine, docs/REALLOC.md: below 4 MiB memcpy wins or ties even with a
 * cold destination; with a warm one it wins up to 8 MiB). */
#define HAK_NT_COPY_MIN ((size_t)4 << 20)

/* A block realloc grows to at least this many bytes moves into a Large block
 * (docs/REALLOC.md, "The Mid -> Large border": measured at 64, 128, 256 KiB). */
#ifndef HAK_REALLOC_BORDER
#define HAK_REALLOC_BORDER ((size_t)64 << 10)
#endif

void *hak_realloc(void *p, size_t n);

/* The copy used when a block moves (exposed for tests and measurements). */
void hak_realloc_copy(void *dst, const void *src, size_t n);

#endif
