/* The hak_ API (include/hakmem.h) over the thread heaps, and the exit
 * statistics (HAKMEM_STATS, HAKMEM_STATS_FILE) and HAKMEM_VERBOSE.  The malloc-named exports are in
 * hakmem_override.c. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include "hakmem_options.h"
#include "hakmem_knobs.h"
#include "hakmem_stats.h"
#include "hakmem_ace_realloc.h"
#include "hakmem_sized.h"
#include <errno.h>
#include <string.h>
#include <stdint.h>

static int stats_at_exit, start_pid;   /* HAKMEM_STATS: 0 off, 1 text, 2 json */

/* HAKMEM_VERBOSE=1: the machine as hakmem sees it */
static void print_machine(void)
{
    uint64_t llc = hak_os_llc_bytes();
    int fd = hak_os_perf_open(0, HAK_OS_PERF_LLC_MISSES);
    hak_log("hakmem: OS page %zu bytes, hakmem page %lu bytes, segment %lu bytes", hak_os_page_size(),
            (unsigned long)HAK_PAGE_SIZE, (unsigned long)HAK_SEG_SIZE);
    if (llc)
        hak_log("hakmem: LLC %lu KiB (cpu0, sysfs)", (unsigned long)(llc >> 10));
    else
        hak_log("hakmem: LLC size unknown (sysfs has no cpu0 index3); 32 MiB assumed");
    if (fd >= 0) {
        hak_os_close(fd);
        hak_log("hakmem: hardware counters available (LLC misses and references, per thread)");
    } else {
        hak_log("hakmem: hardware counters unavailable (perf_event_open: errno %d); ACE's LLC pressure is "
                "the proxy hot working set / LLC size (hot working set: live bytes, at most the bytes "
                "allocated and freed in one second)", -fd);
    }
}

__attribute__((constructor)) static void hak_constructor(void)
{
    hak_init();
    stats_at_exit = (int)hak_option_u64(HAK_OPT_STATS);   /* parsed by hak_init */
    start_pid = hak_os_getpid();
    if (hak_option_u64(HAK_OPT_VERBOSE)) {
        hak_options_parse(HAK_OPT_ACE);   /* ACE parses them again when it starts */
        hak_options_print(2);
        hak_knobs_print(2);
        print_machine();
    }
}

/* The exit statistics, to stderr or HAKMEM_STATS_FILE (<file>.<pid> in a
 * forked child, which would otherwise overwrite its parent's). */
__attribute__((destructor)) static void hak_destructor(void)
{
    char name[512];
    const char *path = hak_option_str(HAK_OPT_STATS_FILE);
    hak_sink_t o = { 2, NULL, 0, 0 };
    hak_snapshot_t s;
    if (!stats_at_exit)
        return;
    if (path) {
        if (hak_os_getpid() != start_pid) {
            hak_fmt(name, sizeof name, "%s.%d", path, hak_os_getpid());
            path = name;
        }
        o.fd = hak_os_open_write(path);
        if (o.fd < 0) {
            hak_log("hakmem: cannot open HAKMEM_STATS_FILE %s (errno %d): statistics to stderr", path, -o.fd);
            o.fd = 2;
        }
    }
    hak_snapshot_take(&s);
    hak_stats_write(&s, stats_at_exit == 2, &o);
    if (o.fd != 2)
        hak_os_close(o.fd);
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

/* The class hak_memalign gives (align, n), align a power of two > 16: the
 * first whose block size is a multiple of align (spans start 64 KiB
 * aligned); -1 when the block is Large. */
static int aligned_class(size_t align, size_t n)
{
    if (align <= HAK_PAGE_SIZE && n + HAK_SLACK <= HAK_MID_MAX) {
        size_t want = n + HAK_SLACK > align ? n + HAK_SLACK : align;
        for (int c = hak_size_class(want); c < HAK_NCLASS; c++)
            if (hak_class_size[c] % align == 0)
                /* secure: no more slack than the size map holds */
                return HAK_SECURE && hak_class_size[c] - n > UINT16_MAX ? -1 : c;
    }
    return -1;
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
#if HAK_SECURE
    void *z;
    if (n == 0 && align <= HAK_OS_PAGE && (z = hak_zero_alloc(align)))
        return z;
#endif
    int c = aligned_class(align, n);
    if (c >= 0)
        return hak_alloc_class((uintptr_t)c, HAK_SECURE ? n : hak_class_size[c]);
    return hak_large_alloc(n || HAK_SECURE ? n : 1, align, 0);   /* secure: the exact size, 0 too */
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

/* The usable size of a block; aborts naming call when p is none (a free
 * block: as a double free when freeing). */
static size_t usable_size(const void *p, const char *call, int freeing)
{
    uintptr_t a = (uintptr_t)p;
    hak_span_t *sp = hak_span_of(a);
    if (HAK_SPAN_LIMIT(sp)) {
        if (!hak_span_is_block(sp, a))
            hak_report_invalid(call, p);
#if HAK_SECURE
        if (!*hak_block_slack(sp, a)) {
            if (freeing)
                hak_report_free_block(call, p);
            hak_report_invalid(call, p);
        }
        return hak_block_size(sp, a);   /* the request: the canary follows it */
#else
        return sp->bsize;
#endif
    }
#if HAK_SECURE
    size_t n = hak_zero_owns(p) ? 0 : hak_large_request(p, call);
    if (n == SIZE_MAX)
#else
    size_t n = hak_large_usable(p);
    if (!n)
#endif
        hak_report_invalid(call, p);
    return n;
}

size_t hak_malloc_usable_size(const void *p)
{
    return p ? usable_size(p, "malloc_usable_size()", 0) : 0;
}

#if HAK_SECURE
/* The secure build knows each block's size: n must be it. */
void hak_free_checked(void *p, size_t n, size_t align, int flags, const char *call)
{
    if (!p)
        return;
    size_t have = usable_size(p, call, 1);
    if (n != have)
        hak_report_size(call, p, n, align, have, HAK_SIZE_EXACT);
    hak_free_fast(p);
}
#else
void hak_free_checked(void *p, size_t n, size_t align, int flags, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    if (!p)
        return;
    int c;   /* the class the request gets; -1: Large; -2: no block has it */
    if (align > 16) {
        size_t al = align;
        if (al > SIZE_MAX / 2 + 1)
            c = -2;
        else {
            if (al & (al - 1))
                al = (size_t)1 << (64 - __builtin_clzl(al));
            c = n > SIZE_MAX - al ? -2 : aligned_class(al, n);
        }
    } else
        c = n <= HAK_MID_MAX ? hak_size_class(n) : -1;
    int realloced = (flags & HAK_SIZED_REALLOC) != 0;
    hak_span_t *sp = hak_span_of(a);
    if (HAK_SPAN_LIMIT(sp)) {
        if (!hak_span_is_block(sp, a))
            hak_report_invalid(call, p);
        if (((uintptr_t *)p)[1] == (a ^ hak_secrets.free_mark))
            hak_report_double(call, p);
        size_t bs = sp->bsize;
        if (c != (int)sp->cls && !(realloced && n <= bs && n >= bs / 2))
            hak_report_size(call, p, n, align, bs, HAK_SIZE_CLASS);
    } else {
        size_t u = hak_large_usable(p);
        if (!u)
            hak_report_invalid(call, p);
        int ok = n <= u && (c == -1 || (realloced && (n >= HAK_REALLOC_BORDER / 2 || u - n < u / 8)));
        if (!ok)
            hak_report_size(call, p, n, align, u, HAK_SIZE_LARGE);
    }
    hak_free_fast(p);
}
#endif

void hak_free_sized(void *p, size_t n) { hak_free_checked(p, n, 0, HAK_SIZED_REALLOC, "free_sized()"); }

void hak_free_aligned_sized(void *p, size_t align, size_t n)
{
    hak_free_checked(p, n, align, 0, "free_aligned_sized()");
}
