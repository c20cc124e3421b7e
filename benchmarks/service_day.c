/* A service's day: `threads` threads go through `cycles` cycles of
 *
 *   busy   each thread keeps `slots` live blocks and replaces one at random
 *          `busy_ops` times (free, malloc, write); large_pct % of the new
 *          blocks are 64 KiB - 4 MiB (message buffers), the rest 16 B - 4 KiB;
 *          at the end of the phase the large blocks are freed (the requests
 *          are done), the small ones stay (the service's state)
 *   batch  each thread allocates `batch` buffers of 16 KiB - 1 MiB, writes
 *          them, then frees them all (a report, a compaction, a bulk load)
 *   quiet  each thread makes one small malloc/free every tick_us for quiet_ms
 *          -- a trickle of allocator calls, as in a service between bursts;
 *          an allocator whose decay runs on its calls gets to run it here;
 *          1.2 s, longer than the 1 s decay that hakmem (HAKMEM_LARGE_DECAY_MS)
 *          and mimalloc 3 (purge_delay) default to, so the RSS sample shows
 *          what such a decay gave back, not when it happened to fire
 *          (jemalloc's 10 s dirty decay is not reached: it is that slow)
 *
 * and after each quiet phase VmRSS is sampled (rss_after_quiet_kb: the last
 * cycle's; rss_before_quiet_kb: the same cycle's at the start of the quiet
 * phase; live_kb_in_quiet: the bytes still live then, the same for every
 * allocator; anon_huge_before_quiet_kb: how much of the RSS then is in
 * transparent huge pages, each mapped by one fault).  Every new block is
 * written on each 4 KiB page it spans (8-byte stamps, as large_churn) and its
 * first, middle and last stamps are checked before it is freed
 * (verify_errors=).
 *
 * Sizes are log-uniform (rng_logsize: each power-of-two octave equally
 * likely), as in the suite's other mixed-size workloads: as many large blocks
 * fall in 64-256 KiB, where allocators move from size classes to page runs or
 * mmap, as in 1-4 MiB.  Chosen, with the other parameters, before any
 * allocator was compared.
 *
 * ops = malloc/free pairs of the busy and batch phases (the quiet phases'
 * trickle is not counted); throughput = ops / wall time of the busy and batch
 * phases (active_s); wall_s, user_s, sys_s, cpu_s, minflt cover the whole
 * measured region, quiet phases included (quiet_cpu_s: their CPU alone), and
 * ops_per_cpu_s = ops / cpu_s. */
#include "bench_common.h"


static long nthreads, cycles, slots, busy_ops, large_pct, batch_n, quiet_ms, tick_us, seed;
static size_t small_lo = 16, small_hi = 4096, large_lo = 64 << 10, large_hi = 4 << 20;
static size_t batch_lo = 16 << 10, batch_hi = 1 << 20;
static pthread_barrier_t bar;

typedef struct {
    rng_t r;
    uint64_t ops, errors, pages, trickle, gen;
    unsigned char **blk;
    size_t *len;
    uint64_t *bgen;
    unsigned char **bat;
    size_t *blen;
    uint64_t *batgen;
    size_t live_small;   /* bytes in small blocks at the end of the busy phase */
} BENCH_PER_THREAD worker_t;
static worker_t *W;

/* thread 0's clocks: wall of the busy+batch phases, quiet phases' CPU, RSS */
static double active_s, quiet_cpu;
static long rss_before_quiet, rss_after_quiet, thp_before_quiet;
static size_t live_in_quiet;


static inline int is_large(size_t n) { return n >= large_lo; }

/* a new block for slot k of thread t */
static void put(worker_t *w, long t, long k)
{
    size_t n = rng_below(&w->r, 100) < (uint64_t)large_pct ? rng_logsize(&w->r, large_lo, large_hi)
                                                          : rng_logsize(&w->r, small_lo, small_hi);
    w->blk[k] = xmalloc(n);
    w->len[k] = n;
    w->bgen[k] = ++w->gen;
    w->pages += bench_fill_pages(w->blk[k], n, (uint64_t)(t << 24 | k), w->bgen[k]);
}
static void drop(worker_t *w, long t, long k)
{
    w->errors += bench_check_pages(w->blk[k], w->len[k], (uint64_t)(t << 24 | k), w->bgen[k]);
    free(w->blk[k]);
    w->blk[k] = NULL;
}

static void sleep_until(struct timespec *ts, long add_ns)
{
    ts->tv_nsec += add_ns;
    while (ts->tv_nsec >= 1000000000L) ts->tv_nsec -= 1000000000L, ts->tv_sec++;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts, NULL) == EINTR) {}
}

static void *worker(void *arg)
{
    long t = (long)(intptr_t)arg;
    worker_t *w = &W[t];
    for (long c = 0; c < cycles; c++) {
        double t0 = 0, c0 = 0;
        pthread_barrier_wait(&bar);
        if (t == 0) t0 = now_s();
        /* busy: refill the slots emptied by the last busy phase, then replace */
        for (long k = 0; k < slots; k++)
            if (!w->blk[k]) { put(w, t, k); w->ops++; }
        for (long i = 0; i < busy_ops; i++) {
            long k = (long)rng_below(&w->r, (uint64_t)slots);
            drop(w, t, k);
            put(w, t, k);
            w->ops++;
        }
        w->live_small = 0;
        for (long k = 0; k < slots; k++) {
            if (is_large(w->len[k])) drop(w, t, k);
            else w->live_small += w->len[k];
        }
        /* batch: many mid/large buffers, then all freed */
        for (long i = 0; i < batch_n; i++) {
            w->blen[i] = rng_logsize(&w->r, batch_lo, batch_hi);
            w->bat[i] = xmalloc(w->blen[i]);
            w->batgen[i] = ++w->gen;
            w->pages += bench_fill_pages(w->bat[i], w->blen[i], (uint64_t)(t << 24 | 1 << 23 | i), w->batgen[i]);
        }
        for (long i = 0; i < batch_n; i++) {
            w->errors += bench_check_pages(w->bat[i], w->blen[i], (uint64_t)(t << 24 | 1 << 23 | i), w->batgen[i]);
            free(w->bat[i]);
            w->ops++;
        }
        pthread_barrier_wait(&bar);
        if (t == 0) {
            active_s += now_s() - t0;
            rss_before_quiet = proc_status_kb("VmRSS");
            thp_before_quiet = smaps_rollup_kb("AnonHugePages");
            live_in_quiet = 0;
            for (long j = 0; j < nthreads; j++) live_in_quiet += W[j].live_small;
            c0 = cpu_s();
        }
        pthread_barrier_wait(&bar);
        /* quiet: a trickle of small calls */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ticks = quiet_ms * 1000 / tick_us;
        for (long i = 0; i < ticks; i++) {
            sleep_until(&ts, tick_us * 1000L);
            size_t n = rng_logsize(&w->r, 16, 256);
            unsigned char *p = xmalloc(n);
            uint64_t g = ++w->gen;
            bench_fill_pages(p, n, (uint64_t)(t << 24 | 1 << 22), g);
            w->errors += bench_check_pages(p, n, (uint64_t)(t << 24 | 1 << 22), g);
            free(p);
            w->trickle++;
        }
        pthread_barrier_wait(&bar);
        if (t == 0) {
            quiet_cpu += cpu_s() - c0;
            rss_after_quiet = proc_status_kb("VmRSS");
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("service_day");
    nthreads = bench_param("threads", 2, 2, 2);
    cycles = bench_param("cycles", 1, 2, 4);
    slots = bench_param("slots", 2000, 2000, 2000);
    busy_ops = bench_param("busy_ops", 30000, 120000, 240000);
    large_pct = bench_param("large_pct", 5, 5, 5);
    batch_n = bench_param("batch", 200, 200, 200);
    quiet_ms = bench_param("quiet_ms", 1200, 1200, 1200);
    tick_us = bench_param("tick_us", 1000, 1000, 1000);
    seed = bench_param("seed", 42, 42, 42);
    if (nthreads < 1 || cycles < 1 || slots < 1 || busy_ops < 0 || batch_n < 0 || tick_us < 1 || large_pct < 0 || large_pct > 100) {
        fprintf(stderr, "service_day: bad parameters\n");
        return 2;
    }
    W = bench_per_thread((size_t)nthreads, sizeof *W);
    for (long t = 0; t < nthreads; t++) {
        worker_t *w = &W[t];
        rng_seed(&w->r, (uint64_t)seed * 1000003u + (uint64_t)t);
        w->blk = calloc((size_t)slots, sizeof *w->blk);
        w->len = calloc((size_t)slots, sizeof *w->len);
        w->bgen = calloc((size_t)slots, sizeof *w->bgen);
        w->bat = calloc((size_t)batch_n + 1, sizeof *w->bat);
        w->blen = calloc((size_t)batch_n + 1, sizeof *w->blen);
        w->batgen = calloc((size_t)batch_n + 1, sizeof *w->batgen);
        if (!w->blk || !w->len || !w->bgen || !w->bat || !w->blen || !w->batgen) die("calloc");
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!th) die("calloc");
    struct rusage ru0, ru1;
    bench_ru(&ru0);
    bench_clock_start();
    for (long t = 1; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) die("pthread_create");
    worker((void *)0);
    for (long t = 1; t < nthreads; t++) pthread_join(th[t], NULL);
    bench_clock_stop();
    bench_ru(&ru1);
    uint64_t ops = 0, errors = 0, pages = 0, trickle = 0;
    for (long t = 0; t < nthreads; t++) {
        worker_t *w = &W[t];
        for (long k = 0; k < slots; k++)
            if (w->blk[k]) drop(w, t, k);
        ops += w->ops, errors += w->errors, pages += w->pages, trickle += w->trickle;
    }
    printf("pages_written=%" PRIu64 "\n", pages);
    printf("trickle_calls=%" PRIu64 "\n", trickle);
    printf("live_kb_in_quiet=%zu\n", live_in_quiet >> 10);
    printf("verify_errors=%" PRIu64 "\n", errors);
    printf("ops=%" PRIu64 "\n", ops);
    printf("# measured (varies run to run)\n");
    printf("throughput=%.0f\n", ops / (active_s > 0 ? active_s : 1e-9));
    printf("ops_per_cpu_s=%.0f\n", ops / bench_cpu);
    printf("active_s=%.4f\n", active_s);
    printf("wall_s=%.4f\n", bench_wall);
    printf("cpu_s=%.4f\n", bench_cpu);
    bench_print_ru(&ru0, &ru1);
    printf("quiet_cpu_s=%.4f\n", quiet_cpu);
    printf("rss_before_quiet_kb=%ld\n", rss_before_quiet);
    printf("rss_after_quiet_kb=%ld\n", rss_after_quiet);
    printf("anon_huge_before_quiet_kb=%ld\n", thp_before_quiet);
    bench_end();
    return errors ? 3 : 0;
}
