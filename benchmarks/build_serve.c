/* build_serve: build a big heap of small blocks, free most of it at random,
 * then serve from what is left.
 *
 * Why: a compiler or an indexer finishing its build leaves a fragmented heap --
 * most blocks freed, the survivors scattered over every page.  Only pages with
 * no survivor can be given back (partial release of a span's empty pages, or
 * a scavenge of free ranges); doing it costs madvise calls and, when the
 * serve phase allocates again, page faults.  Whether it is worth it depends
 * on how long the program then idles and serves -- the trade ACE v3 prices
 * (CPU-s against MiB x s).
 *
 * One thread:
 *   build   allocate blocks of 16 B-4 KiB (log-uniform) until build_mb (250)
 *           MiB are requested, stamping every 4 KiB page of each
 *   free    free_pct % (75) of the blocks, chosen at random, freed in a
 *           scattered order (a fixed stride through the build order)
 *   idle 1  trickle for idle_ms (1500): every tick_ms (50), `trickle` (200)
 *           blocks of 16-512 B allocated, then freed
 *   serve   serve_ms / tick_ms ticks (2000 / 50): per tick `serve_ops` (2000)
 *           random live blocks replaced by new ones of the build's sizes, then
 *           a sleep to the next tick
 *   idle 2  as idle 1
 * After each idle phase rss_after_idle<i>_kb and floor_idle<i>_kb
 * (phased_common.h).  Parameters were fixed before any allocator was
 * compared; never tuned to make one win.  ops = build allocations, frees and
 * serve replacements; throughput = ops / wall time of build, free and serve
 * work (sleeps not counted); wall_s, cpu_s, mib_s cover the whole measured
 * region. */
#include "phased_common.h"

static rng_t r;
static unsigned char **blk;
static uint32_t *len, *bgen;
static uint64_t errors, gen;

static void put(size_t k)
{
    size_t n = rng_logsize(&r, 16, 4096);
    blk[k] = xmalloc(n);
    len[k] = (uint32_t)n;
    bgen[k] = (uint32_t)++gen;
    bench_fill_pages(blk[k], n, k, bgen[k]);
}
static void drop(size_t k)
{
    errors += bench_check_pages(blk[k], len[k], k, bgen[k]);
    free(blk[k]);
    blk[k] = NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("build_serve");
    long build_mb = bench_param("build_mb", 24, 250, 500);
    long free_pct = bench_param("free_pct", 75, 75, 75);
    long idle_ms = bench_param("idle_ms", 150, 1500, 1500);
    long serve_ms = bench_param("serve_ms", 200, 2000, 2000);
    long serve_ops = bench_param("serve_ops", 2000, 2000, 2000);
    long tick_ms = bench_param("tick_ms", 50, 50, 50);
    long trickle = bench_param("trickle", 200, 200, 200);
    long seed = bench_param("seed", 42, 42, 42);
    if (build_mb < 1 || free_pct < 0 || free_pct > 99 || tick_ms < 1 || trickle < 0 || serve_ops < 0) {
        fprintf(stderr, "build_serve: bad parameters\n");
        return 2;
    }
    /* the build's sizes drawn once ahead (same generator, same seed) to size
     * the slot arrays exactly: they are in the base RSS, not the floor */
    size_t target = (size_t)build_mb << 20, nblk = 0;
    rng_seed(&r, (uint64_t)seed);
    for (size_t got = 0; got < target; nblk++) got += rng_logsize(&r, 16, 4096);
    blk = phz_meta(nblk * sizeof *blk);
    len = phz_meta(nblk * sizeof *len);
    bgen = phz_meta(nblk * sizeof *bgen);
    size_t *live = phz_meta(nblk * sizeof *live);
    /* which blocks survive the free: a draw per block from a generator of
     * its own, made here so that the harness's arrays are all in the base */
    unsigned char *dies = phz_meta(nblk);
    rng_seed(&r, (uint64_t)seed ^ 0x5eed);
    for (size_t k = 0; k < nblk; k++) dies[k] = rng_below(&r, 100) < (uint64_t)free_pct;
    rng_seed(&r, (uint64_t)seed);
    uint64_t n_ops = 0, trickle_calls = 0;
    size_t nlive = 0, live_bytes = 0;
    double work_s = 0;

    phz_init();
    phz_start();
    double t0 = now_s();
    for (size_t k = 0; k < nblk; k++, n_ops++) put(k);
    /* freed in a scattered order, so that the free lists are not in address order */
    size_t stride = 7919;
    while (nblk % stride == 0) stride += 2;
    for (size_t i = 0, k = 0; i < nblk; i++, k = (k + stride) % nblk)
        if (dies[k]) { drop(k); n_ops++; }
    for (size_t k = 0; k < nblk; k++)
        if (blk[k]) live[nlive++] = k, live_bytes += len[k];
    work_s += now_s() - t0;

    for (int ph = 0; ph < 2; ph++) {
        trickle_calls += phz_trickle(&r, idle_ms, tick_ms, trickle, (uint64_t)1 << 40, &errors);
        phz_floor_begin(nlive * 2);
        for (size_t i = 0; i < nlive; i++) phz_floor_add(blk[live[i]], len[live[i]]);
        phz_floor_end();
        if (ph == 1) break;
        /* serve: bursts of replacements on a tick, sleeping between */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        for (long t = 0; t < serve_ms / tick_ms; t++) {
            double s0 = now_s();
            for (long i = 0; i < serve_ops; i++, n_ops++) {
                size_t k = live[rng_below(&r, nlive)];
                drop(k);
                put(k);
            }
            work_s += now_s() - s0;
            phz_sleep_until(&ts, tick_ms * 1000000L);
        }
    }
    phz_stop();

    live_bytes = 0;
    for (size_t i = 0; i < nlive; i++) live_bytes += len[live[i]];
    for (size_t i = 0; i < nlive; i++) drop(live[i]);
    printf("build_blocks=%zu\n", nblk);
    printf("live_blocks=%zu\n", nlive);
    printf("live_kb_end=%zu\n", live_bytes >> 10);
    printf("idle_phases=%d\n", phz.nidle);
    printf("trickle_calls=%" PRIu64 "\n", trickle_calls);
    printf("verify_errors=%" PRIu64 "\n", errors);
    printf("ops=%" PRIu64 "\n", n_ops);
    printf("# measured (varies run to run)\n");
    printf("throughput=%.0f\n", n_ops / (work_s > 0 ? work_s : 1e-9));
    printf("work_s=%.4f\n", work_s);
    phz_report();
    bench_end();
    return errors ? 3 : 0;
}
