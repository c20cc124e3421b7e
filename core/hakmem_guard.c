/* The secure shared library's guarded memcpy, memmove, memset and strcpy:
 * a copy into or out of a hakmem Tiny or Mid block must stay inside the
 * bytes the block was asked for, and may not touch a free block; bounds come
 * from the page map and the size map, as for free().  The copying itself is
 * glibc's IFUNC-selected routine, reached through its __*_chk entry points,
 * which call nothing hakmem exports (no recursion).  Not guarded: copies the
 * compiler inlines, glibc's internal copies (stdio, qsort, ...), Large blocks
 * (their guard pages and canaries catch what runs past them).  Only in
 * libhakmem-secure.so: a static library would clash with libc.a. */
#include "hakmem_heap.h"
#include "hakmem_secure.h"
#include <string.h>

#if HAK_SECURE
extern void *__memcpy_chk(void *, const void *, size_t, size_t);
extern void *__memmove_chk(void *, const void *, size_t, size_t);
extern void *__memset_chk(void *, int, size_t, size_t);

#define EXPORT __attribute__((visibility("default")))

/* Bytes from p to the end of the request of the block holding p; SIZE_MAX
 * when p is in no Tiny/Mid block.  A free block aborts. */
static size_t room(const void *p, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    hak_span_t *sp = hak_span_of(a);
    uint64_t off = a - sp->start;
    if (off >= HAK_SPAN_LIMIT(sp))
        return hak_zero_owns(p) ? 0 : SIZE_MAX;
    uint32_t i = hak_span_index(sp, a), bs = sp->bsize;
    if ((uint64_t)i * bs > off)            /* the index rule is exact for block starts only */
        i--;
    else if (off - (uint64_t)i * bs >= bs)
        i++;
    uintptr_t start = sp->start + (uintptr_t)i * bs;
    uint16_t slack = sp->sizes[i];
    if (!slack)
        hak_report_corrupt(call, (void *)start);   /* a copy into or out of a free block */
    uintptr_t end = start + bs - slack;
    return a < end ? end - a : 0;
}

static void check(const void *p, size_t n, const char *call)
{
    size_t r = room(p, call);
    if (HAK_UNLIKELY(n > r))
        hak_fatal("%s: buffer overflow: %zu bytes at %p run %zu bytes past the end of a hakmem block", call, n, p,
                  n - r);
}

EXPORT void *memcpy(void *d, const void *s, size_t n)
{
    if (n) {
        check(d, n, "memcpy()");
        check(s, n, "memcpy()");
    }
    return __memcpy_chk(d, s, n, SIZE_MAX);
}

EXPORT void *memmove(void *d, const void *s, size_t n)
{
    if (n) {
        check(d, n, "memmove()");
        check(s, n, "memmove()");
    }
    return __memmove_chk(d, s, n, SIZE_MAX);
}

EXPORT void *memset(void *d, int c, size_t n)
{
    if (n)
        check(d, n, "memset()");
    return __memset_chk(d, c, n, SIZE_MAX);
}

EXPORT char *strcpy(char *d, const char *s)
{
    size_t n = strlen(s) + 1;
    check(d, n, "strcpy()");
    return __memcpy_chk(d, s, n, SIZE_MAX);
}
#endif
