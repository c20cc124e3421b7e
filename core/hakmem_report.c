/* Bad input: one line on stderr, then abort(), as glibc does. */
#include "hakmem_report.h"
#include "hakmem_secure.h"
#include "hakmem_os.h"

void hak_report_invalid(const char *call, const void *p)
{
    hak_fatal("%s: invalid pointer %p (not a block hakmem handed out)", call, p);
}

void hak_report_double(const char *call, const void *p)
{
    hak_fatal("%s: double free of %p (the block is already free)", call, p);
}

#if HAK_SECURE
void hak_report_corrupt(const char *call, const void *p)
{
    hak_fatal("%s: heap corruption at %p (a free block was written after it was freed)", call, p);
}

void hak_report_overflow(const char *call, const void *p, size_t n)
{
    hak_fatal("%s: buffer overflow: the %zu-byte block at %p was written past its end", call, n, p);
}

void hak_report_free_block(const char *call, const void *p)
{
    /* a block freed before carries an intact link pair; one never handed out does not */
    const uintptr_t *w = p;
    if (w[1] == ~w[0])
        hak_report_double(call, p);
    hak_report_invalid(call, p);
}
#endif

/* "hakmem: free_sized(): size 48 does not match the block at 0x... (class of 32 bytes)" */
void hak_report_size(const char *call, const void *p, size_t n, size_t align, size_t bsize, int kind)
{
    const char *what = kind == HAK_SIZE_LARGE ? "a Large block of" : kind == HAK_SIZE_EXACT ? "a block of" : "class of";
    const char *unit = kind == HAK_SIZE_LARGE ? "usable bytes" : "bytes";
    if (align)
        hak_fatal("%s: size %zu, alignment %zu does not match the block at %p (%s %zu %s)", call, n, align, p,
                  what, bsize, unit);
    hak_fatal("%s: size %zu does not match the block at %p (%s %zu %s)", call, n, p, what, bsize, unit);
}
