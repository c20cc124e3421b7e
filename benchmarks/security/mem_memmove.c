/* memmove over/underflow into a heap block (see mem_copy.h). */
#include "mem_copy.h"

static void *(*volatile memmove_fn)(void *, const void *, size_t) = memmove;

static void do_write(char *dst, const char *src, size_t len)
{
    memmove_fn(dst, src, len);
}
