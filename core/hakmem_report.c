/* Bad input: one line on stderr, then abort(), as glibc does. */
#include "hakmem_report.h"
#include "hakmem_os.h"

void hak_report_invalid(const char *call, const void *p)
{
    hak_fatal("%s: invalid pointer %p (not a block hakmem handed out)", call, p);
}

void hak_report_double(const char *call, const void *p)
{
    hak_fatal("%s: double free of %p (the block is already free)", call, p);
}

/* "hakmem: free_sized(): size 48 does not match the block at 0x... (class of 32 bytes)" */
void hak_report_size(const char *call, const void *p, size_t n, size_t align, size_t bsize, int large)
{
    const char *what = large ? "a Large block of" : "class of";
    const char *unit = large ? "usable bytes" : "bytes";
    if (align)
        hak_fatal("%s: size %zu, alignment %zu does not match the block at %p (%s %zu %s)", call, n, align, p,
                  what, bsize, unit);
    hak_fatal("%s: size %zu does not match the block at %p (%s %zu %s)", call, n, p, what, bsize, unit);
}
