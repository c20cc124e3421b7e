/* Shared parts of the phased workloads (phased_mid, phased_large, build_serve,
 * thread_swing), which alternate busy and idle phases to see whether an
 * allocator gives memory back when a program goes idle and keeps it while
 * the program is busy -- the trade ACE v3 tunes (CPU time against memory held).
 *
 *   sampler   a thread reads /proc/self/statm every 10 ms over the measured
 *             region and integrates RSS over time (mib_s: MiB x seconds, the
 *             memory a program held, not only its peak) and the peak;
 *             open/read/close into a stack buffer: no stdio, no malloc, so the
 *             sampler never calls the allocator it measures
 *   trickle   an idle phase is not zero calls: every tick_ms each active thread
 *             allocates `n` small blocks, stamps, checks and frees them, so an
 *             allocator whose decay runs on its calls gets to run it
 *   floor     at the end of an idle phase: rss_after_idle<i>_kb (VmRSS, from
 *             statm's resident field) and floor_idle<i>_kb = base RSS (measured
 *             before the workload's first allocation) + distinct 4 KiB pages
 *             holding a live block, walked from the program's own live blocks
 *             as fragment_stress does: no allocator that does not move objects
 *             can go below it; idle_excess_max = max over i of rss/floor
 *
 * The floor walk's sort runs with the sampler paused and its wall and thread
 * CPU time taken off wall_s and cpu_s: it is the harness's work, not the
 * allocator's.  cpu_s = getrusage(RUSAGE_SELF) user+sys over the measured
 * region, so an allocator's helper thread (ACE, jemalloc's background thread)
 * counts, as it should.  The harness's own bookkeeping (slot arrays, the
 * floor's page list) lives in mmap'd memory outside the allocator under test;
 * the slot arrays are touched before the base RSS is read, so they are part
 * of the base and not mistaken for the allocator's overhead. */
#ifndef PHASED_COMMON_H
#define PHASED_COMMON_H

#include "bench_common.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PHZ_MAX_IDLE 8
#define PHZ_TRICKLE_MAX 1024

static long phz_page_kb = 4;

/* VmRSS in kB from /proc/self/statm (second field, in pages) */
static long phz_rss_kb(void)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = buf;
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
    long v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v * phz_page_kb;
}

static inline double phz_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void phz_sleep_until(struct timespec *ts, long add_ns)
{
    ts->tv_nsec += add_ns;
    while (ts->tv_nsec >= 1000000000L) ts->tv_nsec -= 1000000000L, ts->tv_sec++;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts, NULL) == EINTR) {}
}

/* harness memory outside the allocator under test, every page touched */
static void *phz_meta(size_t bytes)
{
    if (!bytes) bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    return memset(p, 0, bytes);
}

/* ---- sampler ---- */
enum { PHZ_WAIT, PHZ_RUN, PHZ_PAUSED, PHZ_EXIT };
static struct {
    pthread_mutex_t mu;
    int state;
    double t_last, kb_s;           /* integral of RSS (kB x s) */
    long peak_kb, samples;
    double ex_wall, ex_cpu, pause_wall, pause_cpu;
    long base_kb;
    int nidle;
    long rss_after[PHZ_MAX_IDLE], floor_kb[PHZ_MAX_IDLE];
    pthread_t th;
} phz BENCH_PER_THREAD = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* caller holds phz.mu: RSS kb held from t_last to t */
static void phz_account(long kb, double t)
{
    phz.kb_s += kb * (t - phz.t_last);
    phz.t_last = t;
    if (kb > phz.peak_kb) phz.peak_kb = kb;
    phz.samples++;
}

static void *phz_sampler(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (;;) {
        phz_sleep_until(&ts, 10 * 1000000L);
        long kb = phz_rss_kb();
        double t = now_s();
        pthread_mutex_lock(&phz.mu);
        int st = phz.state;
        if (st == PHZ_RUN) phz_account(kb, t);
        pthread_mutex_unlock(&phz.mu);
        if (st == PHZ_EXIT) return NULL;
    }
}

/* Start the sampler thread (its stack then belongs to the base) and read the
 * base RSS: call after the harness's bookkeeping is set up, before the
 * workload's first allocation. */
static void phz_init(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    phz_page_kb = ps > 0 ? ps / 1024 : 4;
    if (pthread_create(&phz.th, NULL, phz_sampler, NULL)) die("pthread_create");
    phz.base_kb = phz_rss_kb();
}

/* the measured region starts */
static void phz_start(void)
{
    pthread_mutex_lock(&phz.mu);
    bench_clock_start();
    phz.t_last = bench_t0;
    phz.state = PHZ_RUN;
    pthread_mutex_unlock(&phz.mu);
}

/* harness work follows: stop the RSS integral and the clocks */
static void phz_pause(void)
{
    long kb = phz_rss_kb();
    pthread_mutex_lock(&phz.mu);
    phz_account(kb, now_s());
    phz.state = PHZ_PAUSED;
    phz.pause_wall = now_s();
    phz.pause_cpu = phz_thread_cpu();
    pthread_mutex_unlock(&phz.mu);
}
static void phz_resume(void)
{
    pthread_mutex_lock(&phz.mu);
    double t = now_s();
    phz.ex_wall += t - phz.pause_wall;
    phz.ex_cpu += phz_thread_cpu() - phz.pause_cpu;
    phz.t_last = t;
    phz.state = PHZ_RUN;
    pthread_mutex_unlock(&phz.mu);
}

/* the measured region ends; the sampler thread exits */
static double phz_wall, phz_cpu;
static void phz_stop(void)
{
    long kb = phz_rss_kb();
    pthread_mutex_lock(&phz.mu);
    double t = now_s();
    phz_account(kb, t);
    bench_clock_stop();
    phz_wall = bench_wall - phz.ex_wall;
    phz_cpu = bench_cpu - phz.ex_cpu;
    phz.state = PHZ_EXIT;
    pthread_mutex_unlock(&phz.mu);
    pthread_join(phz.th, NULL);
}

/* ---- live-page floor: phz_floor_begin(max pages), phz_floor_add per live
 * block, phz_floor_end records idle phase i's RSS (read by the caller right
 * at the end of the phase) and floor ---- */
static uint64_t *phz_pg;
static size_t phz_npg, phz_maxpg, phz_pg_bytes;
static long phz_rss_at_end;

static void phz_floor_begin(size_t max_pages)
{
    phz_rss_at_end = phz_rss_kb();   /* before the harness touches anything */
    phz_pause();
    phz_maxpg = max_pages + 1;
    phz_pg_bytes = phz_maxpg * sizeof *phz_pg;
    phz_pg = mmap(NULL, phz_pg_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (phz_pg == MAP_FAILED) die("mmap");
    phz_npg = 0;
}
static inline void phz_floor_add(const void *p, size_t n)
{
    for (uintptr_t pg = (uintptr_t)p >> 12; pg <= ((uintptr_t)p + n - 1) >> 12; pg++) {
        if (phz_npg == phz_maxpg) { fprintf(stderr, "phased: floor page list overflow\n"); exit(4); }
        phz_pg[phz_npg++] = pg;
    }
}
/* a thread's slot arrays: every live block (a non-NULL slot) */
static inline void phz_floor_slots(unsigned char *const *blk, const uint32_t *len, long slots)
{
    for (long k = 0; k < slots; k++)
        if (blk[k]) phz_floor_add(blk[k], len[k]);
}
static int phz_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static void phz_floor_end(void)
{
    qsort(phz_pg, phz_npg, sizeof *phz_pg, phz_cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < phz_npg; i++)
        if (i == 0 || phz_pg[i] != phz_pg[i - 1]) distinct++;
    munmap(phz_pg, phz_pg_bytes);
    if (phz.nidle < PHZ_MAX_IDLE) {
        phz.rss_after[phz.nidle] = phz_rss_at_end;
        phz.floor_kb[phz.nidle] = phz.base_kb + (long)distinct * 4;
        phz.nidle++;
    }
    phz_resume();
}

/* ---- idle trickle: ticks of n small blocks (16-512 B) allocated, stamped,
 * checked and freed every tick_ms, for idle_ms ---- */
static uint64_t phz_trickle(rng_t *r, long idle_ms, long tick_ms, long n, uint64_t id, uint64_t *errors)
{
    unsigned char *p[PHZ_TRICKLE_MAX];
    size_t len[PHZ_TRICKLE_MAX];
    uint64_t calls = 0, gen = 0;
    if (n > PHZ_TRICKLE_MAX) n = PHZ_TRICKLE_MAX;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (long t = 0; t < idle_ms / tick_ms; t++) {
        phz_sleep_until(&ts, tick_ms * 1000000L);
        for (long i = 0; i < n; i++) {
            len[i] = rng_logsize(r, 16, 512);
            p[i] = xmalloc(len[i]);
            bench_fill_pages(p[i], len[i], id | (uint64_t)i, gen + (uint64_t)i);
        }
        for (long i = 0; i < n; i++) {
            *errors += bench_check_pages(p[i], len[i], id | (uint64_t)i, gen + (uint64_t)i);
            free(p[i]);
        }
        gen += (uint64_t)n;
        calls += (uint64_t)n;
    }
    return calls;
}

/* the measured lines every phased workload prints (after "# measured") */
static void phz_report(void)
{
    double excess = 0;
    printf("wall_s=%.4f\n", phz_wall);
    printf("cpu_s=%.4f\n", phz_cpu);
    printf("mib_s=%.3f\n", phz.kb_s / 1024.0);
    printf("rss_peak_kb=%ld\n", phz.peak_kb);
    printf("rss_base_kb=%ld\n", phz.base_kb);
    printf("rss_samples=%ld\n", phz.samples);
    for (int i = 0; i < phz.nidle; i++) {
        printf("rss_after_idle%d_kb=%ld\n", i + 1, phz.rss_after[i]);
        printf("floor_idle%d_kb=%ld\n", i + 1, phz.floor_kb[i]);
        double x = phz.floor_kb[i] > 0 ? (double)phz.rss_after[i] / (double)phz.floor_kb[i] : 0;
        if (x > excess) excess = x;
    }
    printf("idle_excess_max=%.4f\n", excess);
}

#endif
