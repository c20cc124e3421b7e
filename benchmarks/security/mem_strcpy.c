/* strcpy over/underflow into a heap block (see mem_copy.h): the source
 * string is len-1 characters long, so strcpy writes exactly len bytes with
 * its terminating NUL (over1: a SIZE-character string into SIZE bytes, the
 * classic off-by-one). */
#include "mem_copy.h"

static char *(*volatile strcpy_fn)(char *, const char *) = strcpy;

static void do_write(char *dst, const char *src, size_t len)
{
    const char *s = src + (strlen(src) - (len - 1));
    strcpy_fn(dst, s);
}
