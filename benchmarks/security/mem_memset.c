/* memset over/underflow of a heap block (see mem_copy.h). */
#include "mem_copy.h"

static void *(*volatile memset_fn)(void *, int, size_t) = memset;

static void do_write(char *dst, const char *src, size_t len)
{
    (void)src;
    memset_fn(dst, 'M', len);
}
