/* memcpy over/underflow into a heap block (see mem_copy.h). */
#include "mem_copy.h"

static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;

static void do_write(char *dst, const char *src, size_t len)
{
    memcpy_fn(dst, src, len);
}
