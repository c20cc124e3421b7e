/* realloc (seed phase 4): in place when the block's class has room, mremap for
 * Large blocks, a copy otherwise. */
#ifndef HAKMEM_ACE_REALLOC_H
#define HAKMEM_ACE_REALLOC_H

#include <stddef.h>

void *hak_realloc(void *p, size_t n);

#endif
