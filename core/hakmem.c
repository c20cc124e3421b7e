/* The hak_ API (include/hakmem.h) over the thread heaps, and the exit
 * statistics (HAKMEM_STATS, HAKMEM_STATS_FILE) and HAKMEM_VERBOSE.  The malloc-named exports are in
 * hakmem_override.c. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include "hakmem_options.h"
#include "hakmem_knobs.h"
#include "hakmem_stats.h"
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
    if (HAK_SPAN_LIMIT(sp)) {
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
