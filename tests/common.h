/* Shared helpers for the hakmem tests.
 *
 * One source, two ways to reach the allocator:
 *   - default: the plain names (malloc, free, ...).  Run under
 *     LD_PRELOAD=build/libhakmem.so (or linked with build/libhakmem.a), or with
 *     nothing at all to sanity-check a test against glibc.
 *   - -DHAK_API_MODE: the hak_ names from include/hakmem.h, linked with
 *     build/libhakmem_api.a (or the core sources directly, for sanitizer
 *     builds); the program keeps the system malloc for everything else.
 */
#ifndef HAKTEST_COMMON_H
#define HAKTEST_COMMON_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAK_API_MODE
#include "hakmem.h"
#define T_MALLOC            hak_malloc
#define T_FREE              hak_free
#define T_CALLOC            hak_calloc
#define T_REALLOC           hak_realloc
#define T_REALLOCARRAY      hak_reallocarray
#define T_POSIX_MEMALIGN    hak_posix_memalign
#define T_ALIGNED_ALLOC     hak_aligned_alloc
#define T_MEMALIGN          hak_memalign
#define T_VALLOC            hak_valloc
#define T_PVALLOC           hak_pvalloc
#define T_USABLE            hak_malloc_usable_size
#define T_FREE_SIZED        hak_free_sized
#define T_FREE_ALIGNED_SIZED hak_free_aligned_sized
#define T_HAVE_FREE_SIZED   1
#define T_MODE_NAME         "hak_api"
static inline int t_get_stats(hak_public_stats_t *s) { hak_get_stats(s); return 1; }
static inline size_t t_release_free_memory(void) { return hak_release_free_memory(); }
#else
/* glibc 2.36 has no free_sized/free_aligned_sized: weak references, resolved
 * to libhakmem.so's definitions when it is preloaded (NULL under glibc). */
extern void free_sized(void *, size_t) __attribute__((weak));
extern void free_aligned_sized(void *, size_t, size_t) __attribute__((weak));
#define T_MALLOC            malloc
#define T_FREE              free
#define T_CALLOC            calloc
#define T_REALLOC           realloc
#define T_REALLOCARRAY      reallocarray
#define T_POSIX_MEMALIGN    posix_memalign
#define T_ALIGNED_ALLOC     aligned_alloc
#define T_MEMALIGN          memalign
#define T_VALLOC            valloc
#define T_PVALLOC           pvalloc
#define T_USABLE            malloc_usable_size
#define T_FREE_SIZED        free_sized
#define T_FREE_ALIGNED_SIZED free_aligned_sized
#define T_HAVE_FREE_SIZED   (free_sized != NULL && free_aligned_sized != NULL)
#define T_MODE_NAME         "plain"
/* Same layout as hak_public_stats_t in include/hakmem.h (kept in sync by hand
 * so this mode does not need the header). */
typedef struct {
    unsigned long long allocs, frees, refills, flushes, remote_frees, drains;
    unsigned long long lock_waits, lock_wait_ns, pages_released, spans_adopted;
    unsigned long long bytes_held, bytes_live;
    unsigned long long remote_backlog;
} hak_public_stats_t;
/* Under LD_PRELOAD the hak_ stats entry points are found with dlsym. */
static inline int t_get_stats(hak_public_stats_t *s)
{
    void (*fn)(hak_public_stats_t *) =
        (void (*)(hak_public_stats_t *))dlsym(RTLD_DEFAULT, "hak_get_stats");
    if (!fn) { memset(s, 0, sizeof *s); return 0; }
    fn(s);
    return 1;
}
static inline size_t t_release_free_memory(void)
{
    size_t (*fn)(void) = (size_t (*)(void))dlsym(RTLD_DEFAULT, "hak_release_free_memory");
    return fn ? fn() : 0;
}
#endif

/* Is hakmem really the allocator?  In plain mode the test must be run with
 * the preload (or static lib) when HAKTEST_REQUIRE_HAKMEM=1 is set. */
static inline int t_hakmem_active(void)
{
#ifdef HAK_API_MODE
    return 1;
#else
    return dlsym(RTLD_DEFAULT, "hak_malloc") != NULL;
#endif
}

static int t_failures __attribute__((unused));

#define CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        t_failures++; } } while (0)
#define CHECKF(cond, ...) do { if (!(cond)) { \
        fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
        t_failures++; } } while (0)
#define DIE(...) do { fprintf(stderr, "FATAL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static inline void t_require_hakmem(void)
{
    const char *e = getenv("HAKTEST_REQUIRE_HAKMEM");
    if (e && *e == '1' && !t_hakmem_active()) {
        fprintf(stderr, "FAIL: hakmem is not the active allocator (LD_PRELOAD missing?)\n");
        exit(2);
    }
}

/* Subtests by name: `prog [name-substring]` runs those whose name contains it. */
struct test { const char *name; void (*fn)(void); };
static inline int t_run(const char *prog, const struct test *tests, size_t n, int argc, char **argv)
{
    t_require_hakmem();
    int ran = 0, failed_tests = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        int before = t_failures;
        tests[i].fn();
        ran++;
        if (t_failures != before) { failed_tests++; fprintf(stderr, "  [%s] %s: FAILED\n", T_MODE_NAME, tests[i].name); }
        else fprintf(stderr, "  [%s] %s: ok\n", T_MODE_NAME, tests[i].name);
    }
    fprintf(stderr, "%s (%s): %d subtests, %d failed, %d checks failed\n", prog, T_MODE_NAME, ran, failed_tests, t_failures);
    return t_failures ? 1 : 0;
}

/* Pattern derived from the block's address, its size and a tag, so that a
 * block handed out twice, overlapping blocks, or a stale copy are caught. */
static inline uint64_t t_seed(const void *p, size_t n, uint64_t tag)
{
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full) ^ tag;
    x ^= x >> 29; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 32;
    return x | 1;
}
static inline void t_fill(void *p, size_t n, uint64_t tag)
{
    uint64_t s = t_seed(p, n, tag);
    unsigned char *c = (unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { uint64_t v = s + i * 0x100000001B3ull; memcpy(c + i, &v, 8); }
    for (; i < n; i++) c[i] = (unsigned char)(s >> (i & 7) * 8) ^ (unsigned char)i;
}
/* Returns the offset of the first bad byte, or (size_t)-1 when all is fine. */
static inline size_t t_check(const void *p, size_t n, uint64_t tag)
{
    uint64_t s = t_seed(p, n, tag);
    const unsigned char *c = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = s + i * 0x100000001B3ull, w;
        memcpy(&w, c + i, 8);
        if (v != w) return i;
    }
    for (; i < n; i++)
        if (c[i] != ((unsigned char)(s >> (i & 7) * 8) ^ (unsigned char)i)) return i;
    return (size_t)-1;
}
/* Content that survives a move (realloc): depends on the offset and a tag only. */
static inline void t_fill_pos(void *p, size_t n, uint64_t tag)
{
    unsigned char *c = (unsigned char *)p;
    for (size_t i = 0; i < n; i++) c[i] = (unsigned char)((i * 131u) ^ (i >> 8) ^ tag);
}
static inline size_t t_check_pos(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)((i * 131u) ^ (i >> 8) ^ tag)) return i;
    return (size_t)-1;
}

/* xorshift PRNG, per thread */
static inline uint64_t t_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* A size drawn from the three layers: mostly tiny, some mid, rarely large. */
static inline size_t t_rand_size(uint64_t *rs)
{
    uint64_t r = t_rand(rs);
    unsigned sel = (unsigned)(r % 1000);
    r >>= 10;
    if (sel < 800) return 1 + r % 1024;               /* tiny */
    if (sel < 990) return 1025 + r % (64 * 1024);     /* mid */
    if (sel < 998) return 64 * 1024 + r % (192 * 1024); /* upper mid */
    return 256 * 1024 + 1 + r % (1536 * 1024);        /* large */
}

/* A "Key:   N kB" line of /proc/self/status (key with its colon), read with
 * read(2): no allocation, so it works under a tight limit.  -1 if absent. */
static inline long t_status_kb(const char *key)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += k;
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    size_t kl = strlen(key);
    for (const char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, kl)) return strtol(l + kl, NULL, 10);
    return -1;
}

static inline long t_rss_kb(void) { return t_status_kb("VmRSS:"); }

static inline long t_env_long(const char *name, long def)
{
    const char *e = getenv(name);
    return (e && *e) ? strtol(e, NULL, 0) : def;
}

/* Mappings of the process now (lines of /proc/self/maps). */
static inline int t_maps_lines(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f) fclose(f);
    return n;
}

#endif
