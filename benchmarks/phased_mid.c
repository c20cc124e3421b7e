/* phased_mid: a Mid-size service with bursts and idle gaps.
 *
 * Why: an allocator that keeps the pages of a burst's freed Mid blocks
 * (1-32 KiB) resident serves the next burst without faults but holds memory
 * through the gap; one that releases them early pays faults and madvise calls
 * in every burst.  The right choice depends on how long the gap is and what
 * memory is worth -- the trade ACE v3 prices (CPU-s against MiB x s).
 *
 * `threads` threads (2), `cycles` cycles (2) of
 *   burst  each thread keeps `slots` (3000) live blocks of 1-32 KiB
 *          (log-uniform), refilling empty slots first, then replaces a random
 *          one `burst_ops` times (check stamps, free, malloc, stamp every
 *          4 KiB page); about 0.8 s under glibc on 2 cores
 *   end    the burst's requests end: every block whose slot is not a multiple
 *          of `keep_every` (10) is freed; the rest (10 %) is the service's state
 *   idle   trickle for idle_ms (2000): every tick_ms (50) each thread
 *          allocates `trickle` (200) blocks of 16-512 B, then frees them;
 *          then rss_after_idle<c>_kb and floor_idle<c>_kb (phased_common.h)
 *
 * Parameters were fixed before any allocator was compared (burst_ops from
 * glibc's rate, for a burst of about 0.8 s); never tuned to make one win.
 * ops = burst replacements and refills; throughput = ops / wall time of the
 * bursts; wall_s, cpu_s, mib_s cover the whole measured region. */
#include "phased_common.h"

static long nthreads, cycles, slots, burst_ops, keep_every, idle_ms, tick_ms, trickle, seed;
static pthread_barrier_t bar;
static double burst_s;

typedef struct {
    rng_t r;
    uint64_t ops, errors, gen, trickle_calls;
    unsigned char **blk;
    uint32_t *len;
    uint64_t *bgen;
} BENCH_PER_THREAD worker_t;
static worker_t *W;

static uint64_t blk_id(long t, long k) { return (uint64_t)t << 24 | (uint64_t)k; }

static void put(worker_t *w, long t, long k)
{
    size_t n = rng_logsize(&w->r, 1024, 32768);
    w->blk[k] = xmalloc(n);
    w->len[k] = (uint32_t)n;
    w->bgen[k] = ++w->gen;
    bench_fill_pages(w->blk[k], n, blk_id(t, k), w->bgen[k]);
}
static void drop(worker_t *w, long t, long k)
{
    w->errors += bench_check_pages(w->blk[k], w->len[k], blk_id(t, k), w->bgen[k]);
    free(w->blk[k]);
    w->blk[k] = NULL;
}

static void *worker(void *arg)
{
    long t = (long)(intptr_t)arg;
    worker_t *w = &W[t];
    for (long c = 0; c < cycles; c++) {
        double t0 = 0;
        pthread_barrier_wait(&bar);
        if (t == 0) t0 = now_s();
        for (long k = 0; k < slots; k++)
            if (!w->blk[k]) { put(w, t, k); w->ops++; }
        for (long i = 0; i < burst_ops; i++) {
            long k = (long)rng_below(&w->r, (uint64_t)slots);
            drop(w, t, k);
            put(w, t, k);
            w->ops++;
        }
        for (long k = 0; k < slots; k++)
            if (k % keep_every) drop(w, t, k);
        pthread_barrier_wait(&bar);
        if (t == 0) burst_s += now_s() - t0;
        w->trickle_calls += phz_trickle(&w->r, idle_ms, tick_ms, trickle, (uint64_t)t << 24 | 1 << 23, &w->errors);
        pthread_barrier_wait(&bar);
        if (t == 0) {
            phz_floor_begin((size_t)nthreads * (size_t)(slots / keep_every + 1) * 10);
            for (long j = 0; j < nthreads; j++)
                phz_floor_slots(W[j].blk, W[j].len, slots);
            phz_floor_end();
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("phased_mid");
    nthreads = bench_param("threads", 2, 2, 2);
    cycles = bench_param("cycles", 2, 2, 4);
    slots = bench_param("slots", 1000, 3000, 3000);
    burst_ops = bench_param("burst_ops", 20000, 3000000, 3000000);
    keep_every = bench_param("keep_every", 10, 10, 10);
    idle_ms = bench_param("idle_ms", 150, 2000, 2000);
    tick_ms = bench_param("tick_ms", 50, 50, 50);
    trickle = bench_param("trickle", 200, 200, 200);
    seed = bench_param("seed", 42, 42, 42);
    if (nthreads < 1 || cycles < 1 || cycles > PHZ_MAX_IDLE || slots < 1 || burst_ops < 0 || keep_every < 1 ||
        tick_ms < 1 || trickle < 0) {
        fprintf(stderr, "phased_mid: bad parameters\n");
        return 2;
    }
    W = bench_per_thread((size_t)nthreads, sizeof *W);
    for (long t = 0; t < nthreads; t++) {
        worker_t *w = &W[t];
        rng_seed(&w->r, (uint64_t)seed * 1000003u + (uint64_t)t);
        w->blk = phz_meta((size_t)slots * sizeof *w->blk);
        w->len = phz_meta((size_t)slots * sizeof *w->len);
        w->bgen = phz_meta((size_t)slots * sizeof *w->bgen);
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    pthread_t *th = phz_meta((size_t)nthreads * sizeof *th);
    phz_init();
    phz_start();
    for (long t = 1; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) die("pthread_create");
    worker((void *)0);
    for (long t = 1; t < nthreads; t++) pthread_join(th[t], NULL);
    phz_stop();

    uint64_t ops = 0, errors = 0, trickle_calls = 0;
    for (long t = 0; t < nthreads; t++) {
        worker_t *w = &W[t];
        for (long k = 0; k < slots; k++)
            if (w->blk[k]) drop(w, t, k);
        ops += w->ops, errors += w->errors, trickle_calls += w->trickle_calls;
    }
    printf("idle_phases=%d\n", phz.nidle);
    printf("trickle_calls=%" PRIu64 "\n", trickle_calls);
    printf("verify_errors=%" PRIu64 "\n", errors);
    printf("ops=%" PRIu64 "\n", ops);
    printf("# measured (varies run to run)\n");
    printf("throughput=%.0f\n", ops / (burst_s > 0 ? burst_s : 1e-9));
    printf("burst_s=%.4f\n", burst_s);
    phz_report();
    bench_end();
    return errors ? 3 : 0;
}
