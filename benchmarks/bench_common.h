/* Shared helpers for the hakmem benchmark workloads.
 *
 * Every workload is allocator-neutral: it calls malloc/free/realloc only, does a
 * fixed amount of work from a fixed seed, and prints key=value lines on stdout:
 *
 *   deterministic lines first (workload, mode, parameters, op counts, checksums,
 *   allocator_lib), then one separator line "# measured", then the lines that vary
 *   run to run (throughput, ops_per_cpu_s, peak_rss_kb, ...).
 *
 * So `diff a.txt b.txt` of two runs of the same binary shows exactly the measured
 * lines (and any env_ line that differs) -- the A/B comparison the seed asks for.
 *
 * Usage of every workload binary:  <bin> [quick|default|long] [key=value ...]
 * (mode may also come from BENCH_MODE; key=value overrides single parameters).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

/* ---------- mode and parameters ---------- */

enum { MODE_QUICK = 0, MODE_DEFAULT = 1, MODE_LONG = 2 };
static int bench_mode = MODE_DEFAULT;
static const char *bench_mode_name = "default";
static int bench_argc;
static char **bench_argv;

static void bench_init(int argc, char **argv)
{
    const char *m = getenv("BENCH_MODE");
    bench_argc = argc;
    bench_argv = argv;
    for (int i = 1; i < argc; i++)
        if (!strchr(argv[i], '=')) m = argv[i];
    if (m) {
        if (!strcmp(m, "quick")) bench_mode = MODE_QUICK, bench_mode_name = "quick";
        else if (!strcmp(m, "default")) bench_mode = MODE_DEFAULT, bench_mode_name = "default";
        else if (!strcmp(m, "long")) bench_mode = MODE_LONG, bench_mode_name = "long";
        else {
            fprintf(stderr, "usage: %s [quick|default|long] [key=value ...]\n", argv[0]);
            exit(2);
        }
    }
}

/* Parameter: value for (quick, default, long), overridable with name=value. */
static long bench_param(const char *name, long q, long d, long l)
{
    size_t n = strlen(name);
    long v = bench_mode == MODE_QUICK ? q : bench_mode == MODE_LONG ? l : d;
    for (int i = 1; i < bench_argc; i++)
        if (!strncmp(bench_argv[i], name, n) && bench_argv[i][n] == '=')
            v = strtol(bench_argv[i] + n + 1, NULL, 0);
    printf("param_%s=%ld\n", name, v);
    return v;
}

/* ---------- random numbers (splitmix64 seeding, xorshift64*) ---------- */

typedef struct { uint64_t s; } rng_t;
static inline void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    r->s = (z ^ (z >> 31)) | 1;
}
static inline uint64_t rng_next(rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
/* uniform in [0, n) */
static inline uint64_t rng_below(rng_t *r, uint64_t n) { return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64); }
/* uniform in [lo, hi] */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) { return lo + (size_t)rng_below(r, hi - lo + 1); }
/* log-uniform in [lo, hi]: each power-of-two bucket [2^b, 2^(b+1)) that meets
 * [lo, hi] is equally likely, sizes uniform inside it (when hi is a power of
 * two it belongs to the bucket below it, so hi itself is not over-weighted) */
static inline size_t rng_logsize(rng_t *r, size_t lo, size_t hi)
{
    if (lo == hi) return lo;   /* one fixed size (xmalloc_64); draws nothing */
    int blo = 63 - __builtin_clzll(lo), bhi = 63 - __builtin_clzll(hi);
    int pow2 = bhi > blo && (hi & (hi - 1)) == 0;
    if (pow2) bhi--;
    for (;;) {
        int b = blo + (int)rng_below(r, (uint64_t)(bhi - blo + 1));
        size_t base = (size_t)1 << b;
        /* the top bucket of a power-of-two hi also holds hi itself */
        size_t s = base + (size_t)rng_below(r, base + (pow2 && b == bhi));
        if (s >= lo && s <= hi) return s;
    }
}

/* ---------- time, CPU, memory ---------- */

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}
/* A field of /proc/self/status in kB (VmHWM, VmRSS, Threads ...); -1 if absent. */
static long proc_status_kb(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') { v = strtol(line + n + 1, NULL, 10); break; }
    fclose(f);
    return v;
}

/* A field of /proc/self/smaps_rollup in kB (AnonHugePages: memory backed by
 * transparent huge pages, where one minor fault maps 2 MiB); -1 if absent. */
static inline long smaps_rollup_kb(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') { v = strtol(line + n + 1, NULL, 10); break; }
    fclose(f);
    return v;
}

/* Which malloc library is mapped into this process (for preload verification):
 * every mapped file whose name starts with a known allocator's name, and every
 * mapped file with the basename of an LD_PRELOAD entry (symlinks resolved), so
 * that an extra peer under any name (the runner's --extra-peers) is seen too.
 * A statically linked allocator names itself with -DBENCH_STATIC_ALLOCATOR. */
static void print_allocator_lib(void)
{
#ifdef BENCH_STATIC_ALLOCATOR
    printf("allocator_lib=%s\n", BENCH_STATIC_ALLOCATOR);
#else
    static const char *names[] = {"libhakmem", "libmimalloc", "libjemalloc", "libtcmalloc", "libsnmalloc", NULL};
    enum { MAXPRE = 8 };
    static char pre[MAXPRE][256];
    int npre = 0;
    const char *lp = getenv("LD_PRELOAD");
    if (lp) {
        char buf[2048], res[4096];
        snprintf(buf, sizeof buf, "%s", lp);
        for (char *save = NULL, *t = strtok_r(buf, ": \t", &save); t && npre < MAXPRE; t = strtok_r(NULL, ": \t", &save)) {
            const char *path = realpath(t, res) ? res : t;
            const char *b = strrchr(path, '/');
            b = b ? b + 1 : path;
            if (strlen(b) < sizeof pre[0]) strcpy(pre[npre++], b);
        }
    }
    char line[1024], found[512] = "";
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *p = strrchr(line, '/');
        if (!p) continue;
        p[strcspn(p, "\n")] = 0;
        int match = 0;
        for (int i = 0; names[i] && !match; i++)
            match = !strncmp(p + 1, names[i], strlen(names[i]));
        for (int i = 0; i < npre && !match; i++)
            match = !strcmp(p + 1, pre[i]);
        if (match && !strstr(found, p + 1) && strlen(found) + strlen(p) < sizeof found - 2) {
            if (found[0]) strcat(found, ",");
            strcat(found, p + 1);
        }
    }
    if (f) fclose(f);
    printf("allocator_lib=%s\n", found[0] ? found : "glibc");
#endif
}

static const char *bench_workload_name;
static double bench_t0, bench_c0;

/* Print the header (deterministic) and start the clocks. */
static void bench_begin(const char *workload)
{
    bench_workload_name = workload;
    printf("workload=%s\n", workload);
    printf("mode=%s\n", bench_mode_name);
    print_allocator_lib();
    const char *ace = getenv("HAKMEM_ACE_ENABLED");
    printf("env_HAKMEM_ACE_ENABLED=%s\n", ace ? ace : "unset");
    fflush(stdout);
}
static void bench_clock_start(void) { bench_t0 = now_s(); bench_c0 = cpu_s(); }

static double bench_wall, bench_cpu;
/* Stop the clocks (the measured region ends here). */
static void bench_clock_stop(void)
{
    bench_wall = now_s() - bench_t0;
    bench_cpu = cpu_s() - bench_c0;
    if (bench_wall <= 0) bench_wall = 1e-9;
    if (bench_cpu <= 0) bench_cpu = 1e-9;
}
/* Print ops (deterministic), the separator, and the standard measured lines.
 * Everything printed after this call belongs to the measured section. */
static inline void bench_report(uint64_t ops)
{
    printf("ops=%" PRIu64 "\n", ops);
    printf("# measured (varies run to run)\n");
    printf("throughput=%.0f\n", ops / bench_wall);
    printf("ops_per_cpu_s=%.0f\n", ops / bench_cpu);
    printf("wall_s=%.4f\n", bench_wall);
    printf("cpu_s=%.4f\n", bench_cpu);
}
static void bench_end(void)
{
    printf("peak_rss_kb=%ld\n", proc_status_kb("VmHWM"));
    printf("end_rss_kb=%ld\n", proc_status_kb("VmRSS"));
    /* threads alive at the end: the workload's own are joined by now, so a
     * value above 1 shows a background thread (hakmem's ACE thread, jemalloc's
     * background thread) -- the runner uses it to confirm ACE was running */
    printf("threads_at_end=%ld\n", proc_status_kb("Threads"));
    fflush(stdout);
}

/* user/system CPU and page faults of the whole process (every thread) over a
 * region: bench_ru(&a) before, bench_ru(&b) after, bench_print_ru(&a, &b)
 * prints user_s, sys_s, minflt (ru_minflt: minor faults, each a page the
 * kernel had to map -- a fresh page from the allocator), majflt. */
static inline void bench_ru(struct rusage *ru) { getrusage(RUSAGE_SELF, ru); }
static inline double tv_s(struct timeval tv) { return tv.tv_sec + tv.tv_usec * 1e-6; }
static inline void bench_print_ru(const struct rusage *a, const struct rusage *b)
{
    printf("user_s=%.4f\n", tv_s(b->ru_utime) - tv_s(a->ru_utime));
    printf("sys_s=%.4f\n", tv_s(b->ru_stime) - tv_s(a->ru_stime));
    printf("minflt=%ld\n", b->ru_minflt - a->ru_minflt);
    printf("majflt=%ld\n", b->ru_majflt - a->ru_majflt);
}

/* Touch a block so that its memory is really used (first and last cache line). */
static inline void touch(void *p, size_t n, unsigned char v)
{
    unsigned char *c = p;
    c[0] = v;
    c[n - 1] = v;
    if (n > 128) c[n / 2] = v;
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s failed: %s\n", bench_workload_name ? bench_workload_name : "bench", what, strerror(errno));
    exit(1);
}
static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("malloc");
    return p;
}

/* ---- per-thread state of a workload ----
 * Each thread's counters and generator live on lines of their own: where two
 * threads' state shares a line, every update moves it between cores, and how
 * many pairs share depends on where the allocator under test put the array,
 * not on how fast it is (larson's 40-byte entries in one 160-byte block:
 * hakmem 73 M ops/s where the block fell at 32 mod 64, 119 with each entry on
 * its own line).  128 bytes: the adjacent-line prefetcher fetches lines in pairs. */
#define BENCH_LINE 128
#define BENCH_PER_THREAD __attribute__((aligned(BENCH_LINE)))

/* n zeroed entries of a BENCH_PER_THREAD type, on line boundaries. */
static inline void *bench_per_thread(size_t n, size_t size)
{
    void *p = NULL;
    if (size % BENCH_LINE || (n && n > SIZE_MAX / size) || posix_memalign(&p, BENCH_LINE, n * size))
        die("bench_per_thread");
    return memset(p, 0, n * size);
}

/* ---- latency samples: calls timed with rdtscp (timer cost subtracted, TSC
 * calibrated against CLOCK_MONOTONIC); call calibrate() first ---- */
static double tsc_ns;       /* ns per TSC tick */
static double timer_ticks;  /* cost of an empty rdtscp pair, ticks */
static double tsc_step;     /* smallest non-zero difference seen between two rdtscp reads, ticks */

static inline void calibrate(void)
{
    unsigned aux;
    double t0 = now_s();
    uint64_t c0 = __rdtscp(&aux);
    while (now_s() - t0 < 0.05) {}
    uint64_t c1 = __rdtscp(&aux);
    double t1 = now_s();
    tsc_ns = (t1 - t0) * 1e9 / (double)(c1 - c0);
    uint64_t step = UINT64_MAX;
    for (int i = 0; i < 100000; i++) {
        uint64_t a = __rdtscp(&aux), b = __rdtscp(&aux);
        if (b > a && b - a < step) step = b - a;
    }
    tsc_step = (double)step;
    uint64_t best[64];
    for (int k = 0; k < 64; k++) {
        uint64_t mn = UINT64_MAX;
        for (int i = 0; i < 100; i++) {
            uint64_t a = __rdtscp(&aux), b = __rdtscp(&aux);
            if (b - a < mn) mn = b - a;
        }
        best[k] = mn;
    }
    uint64_t s = 0;
    for (int k = 0; k < 64; k++) s += best[k];
    timer_ticks = (double)s / 64;
}

typedef struct { float *v; size_t n, cap; } lat_t;
static inline void lat_add(lat_t *l, double ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        /* the sample array uses the allocator too, outside the timed calls */
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) die("realloc");
    }
    l->v[l->n++] = (float)ns;
}
/* ns between two rdtscp reads, the timer's own cost taken off */
static inline double lat_ns(uint64_t a, uint64_t b)
{
    double ns = ((double)(b - a) - timer_ticks) * tsc_ns;
    return ns < 0 ? 0 : ns;
}
/* src's samples appended to dst (a thread's samples into the run's) */
static inline void lat_merge(lat_t *dst, const lat_t *src)
{
    for (size_t i = 0; i < src->n; i++) lat_add(dst, src->v[i]);
}
static inline int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}
static inline void lat_print(const char *pfx, lat_t *l)
{
    if (!l->n) return;
    double sum = 0;
    for (size_t i = 0; i < l->n; i++) sum += l->v[i];
    qsort(l->v, l->n, sizeof *l->v, cmp_f);
    printf("%s_p50_ns=%.1f\n", pfx, l->v[l->n / 2]);
    printf("%s_p99_ns=%.1f\n", pfx, l->v[(size_t)(l->n * 0.99)]);
    printf("%s_max_ns=%.1f\n", pfx, l->v[l->n - 1]);
    printf("%s_mean_ns=%.1f\n", pfx, sum / l->n);
}


/* lat=1: the workload times each malloc and free of its measured loop
 * (call_p50/p99/max/mean_ns); off by default, the rows' figures are untimed */
static long bench_lat;
static inline void bench_lat_init(void)
{
    if ((bench_lat = bench_param("lat", 0, 0, 0)))
        calibrate();
}
#define BENCH_TIMED(l, stmt) do { \
        if (bench_lat) { unsigned aux_; uint64_t a_ = __rdtscp(&aux_); stmt; \
                         lat_add((l), lat_ns(a_, __rdtscp(&aux_))); } \
        else { stmt; } } while (0)

/* ---- page stamps: a new block is written on every 4 KiB page it spans (the
 * writes a program makes to a fresh buffer, each a page fault where the
 * allocator hands out untouched pages), and a few stamps are checked before
 * it is freed, so an allocator that hands out overlapping blocks fails. */
#define BENCH_PAGE 4096

static inline uint64_t bench_stamp(uint64_t id, uint64_t gen, uint64_t page)
{
    uint64_t z = (id << 40) ^ (gen << 8) ^ page ^ 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 29);
}

/* one stamp per 4 KiB page and the last 8 bytes; returns pages written */
static inline uint64_t bench_fill_pages(unsigned char *p, size_t n, uint64_t id, uint64_t gen)
{
    uint64_t pages = 0;
    for (size_t off = 0; off + 8 <= n; off += BENCH_PAGE, pages++) {
        uint64_t v = bench_stamp(id, gen, off / BENCH_PAGE);
        memcpy(p + off, &v, 8);
    }
    uint64_t v = bench_stamp(id, gen, UINT64_MAX);
    memcpy(p + n - 8, &v, 8);
    return pages;
}

/* the first, middle and last page's stamps and the tail's; 1 when one differs
 * (not inlined: gcc then flags the middle stamp's read of a block it sees is
 * 256 bytes, under a test it does not follow) */
__attribute__((noinline, unused)) static int bench_check_pages(const unsigned char *p, size_t n, uint64_t id, uint64_t gen)
{
    size_t last = (n - 8) / BENCH_PAGE;
    if (last && last * BENCH_PAGE + 16 > n) last--;   /* that stamp is under the tail's */
    size_t mid = last / 2;
    uint64_t v;
    int bad = 0;
    memcpy(&v, p, 8); bad |= v != bench_stamp(id, gen, 0);
    if (last) {
        memcpy(&v, p + mid * BENCH_PAGE, 8); bad |= v != bench_stamp(id, gen, mid);
        memcpy(&v, p + last * BENCH_PAGE, 8); bad |= v != bench_stamp(id, gen, last);
    }
    if (n >= 16) { memcpy(&v, p + n - 8, 8); bad |= v != bench_stamp(id, gen, UINT64_MAX); }
    return bad;
}

#endif
