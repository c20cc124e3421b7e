/* The hak_ API (include/hakmem.h) over the thread heaps, and the exit
 * statistics (HAKMEM_STATS=1).  The malloc-named exports are in
 * hakmem_override.c. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include "hakmem_options.h"
#include <errno.h>
#include <string.h>
#include <stdint.h>

static int stats_at_exit;

__attribute__((constructor)) static void hak_constructor(void)
{
    hak_init();
    stats_at_exit = hak_option_u64(HAK_OPT_STATS) != 0;   /* parsed by hak_init */
}

__attribute__((destructor)) static void hak_destructor(void)
{
    if (stats_at_exit)
        hak_print_stats();
}

/* ---- the hak_ API ---- */

const char *hak_version(void) { return HAKMEM_VERSION_STRING; }

void *hak_malloc(size_t n) { return hak_malloc_fast(n); }
void hak_free(void *p) { hak_free_fast(p); }

void *hak_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HAK_MID_MAX)
        return hak_large_alloc(total, 0, 1);   /* zeroes only what a cached piece held */
    void *p = hak_malloc_fast(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void *hak_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, total);
}

/* glibc's memalign: alignment <= 16 is plain malloc, a non-power of two is
 * rounded up, an impossible one is EINVAL. */
void *hak_memalign(size_t align, size_t n)
{
    if (align <= 16)
        return hak_malloc_fast(n);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))
        align = (size_t)1 << (64 - __builtin_clzl(align));
    if (n > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    /* a class whose block size is a multiple of align: spans start 64 KiB aligned */
    if (align <= HAK_PAGE_SIZE && n <= HAK_MID_MAX) {
        size_t want = n > align ? n : align;
        for (int c = hak_size_class(want); c < HAK_NCLASS; c++)
            if (hak_class_size[c] % align == 0)
                return hak_malloc_fast(hak_class_size[c]);
    }
    return hak_large_alloc(n ? n : 1, align, 0);
}

void *hak_aligned_alloc(size_t align, size_t n) { return hak_memalign(align, n); }

int hak_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = hak_memalign(align, n);
    if (!p) {
        int e = errno;
        errno = saved;
        return e;
    }
    *out = p;
    return 0;
}

void *hak_valloc(size_t n) { return hak_memalign(HAK_OS_PAGE, n); }

void *hak_pvalloc(size_t n)
{
    size_t r;
    if (__builtin_add_overflow(n, HAK_OS_PAGE - 1, &r)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_memalign(HAK_OS_PAGE, r & ~(size_t)(HAK_OS_PAGE - 1));
}

size_t hak_malloc_usable_size(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (!p)
        return 0;
    hak_span_t *sp = hak_span_of(a);
    if (sp != HAK_SPAN_INVALID) {
        if (!hak_span_is_block(sp, a))
            hak_report_invalid("malloc_usable_size()", p);
        return sp->bsize;
    }
    size_t n = hak_large_usable(p);
    if (!n)
        hak_report_invalid("malloc_usable_size()", p);
    return n;
}

void hak_free_sized(void *p, size_t n) { (void)n; hak_free_fast(p); }
void hak_free_aligned_sized(void *p, size_t align, size_t n) { (void)align; (void)n; hak_free_fast(p); }
