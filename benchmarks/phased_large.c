/* phased_large: phases of Large buffers of different sizes, with idle gaps.
 *
 * Why: a cache of freed Large blocks (or their mappings kept resident) saves
 * the page faults of the next buffer of the same size, but only if the next
 * phase asks for that size; after a phase change, or through an idle gap, it
 * is memory held for nothing.  How big the cache may be and how fast it
 * decays is the trade ACE v3 prices (CPU-s against MiB x s).
 *
 * One thread (and the sampler), three phases, buffer sizes 256 KiB, 4 MiB and
 * 1 MiB, each +- 25 % (uniform):
 *   busy   keep `live` (16) buffers, replace a random one ops<N> times
 *          (check stamps, free, malloc, stamp every 4 KiB page); about 0.6 s
 *          per phase under glibc
 *   end    all 16 freed
 *   idle   trickle for idle_ms (1500): every tick_ms (50), `trickle` (200)
 *          blocks of 16-512 B allocated, then freed; then rss_after_idle<i>_kb
 *          and floor_idle<i>_kb (= the base RSS: nothing is live)
 *
 * The phase order (small, big, middle) makes each phase's sizes miss what the
 * previous one left cached.  Parameters were fixed before any allocator was
 * compared (ops<N> from glibc's rate); never tuned to make one win.
 * ops = replacements and fills; throughput = ops / wall time of the busy
 * phases; wall_s, cpu_s, mib_s cover the whole measured region. */
#include "phased_common.h"

#define NPHASE 3

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("phased_large");
    long live = bench_param("live", 16, 16, 16);
    long ops[NPHASE];
    ops[0] = bench_param("ops1", 6000, 180000, 180000);
    ops[1] = bench_param("ops2", 200, 6400, 6400);
    ops[2] = bench_param("ops3", 8000, 250000, 250000);
    long idle_ms = bench_param("idle_ms", 150, 1500, 1500);
    long tick_ms = bench_param("tick_ms", 50, 50, 50);
    long trickle = bench_param("trickle", 200, 200, 200);
    long seed = bench_param("seed", 42, 42, 42);
    static const size_t size_kb[NPHASE] = {256, 4096, 1024};
    if (live < 1 || tick_ms < 1 || trickle < 0 || ops[0] < 0 || ops[1] < 0 || ops[2] < 0) {
        fprintf(stderr, "phased_large: bad parameters\n");
        return 2;
    }
    unsigned char **blk = phz_meta((size_t)live * sizeof *blk);
    size_t *len = phz_meta((size_t)live * sizeof *len);
    uint64_t *bgen = phz_meta((size_t)live * sizeof *bgen);
    rng_t r;
    rng_seed(&r, (uint64_t)seed);
    uint64_t n_ops = 0, errors = 0, gen = 0, trickle_calls = 0;
    double busy_s = 0;

    phz_init();
    phz_start();
    for (int ph = 0; ph < NPHASE; ph++) {
        size_t lo = size_kb[ph] * 1024 * 3 / 4, hi = size_kb[ph] * 1024 * 5 / 4;
        double t0 = now_s();
        for (long i = 0; i < live + ops[ph]; i++) {
            long k = i < live ? i : (long)rng_below(&r, (uint64_t)live);
            if (blk[k]) {
                errors += bench_check_pages(blk[k], len[k], (uint64_t)k, bgen[k]);
                free(blk[k]);
            }
            len[k] = rng_range(&r, lo, hi);
            blk[k] = xmalloc(len[k]);
            bgen[k] = ++gen;
            bench_fill_pages(blk[k], len[k], (uint64_t)k, bgen[k]);
            n_ops++;
        }
        for (long k = 0; k < live; k++) {
            errors += bench_check_pages(blk[k], len[k], (uint64_t)k, bgen[k]);
            free(blk[k]);
            blk[k] = NULL;
        }
        busy_s += now_s() - t0;
        trickle_calls += phz_trickle(&r, idle_ms, tick_ms, trickle, 1 << 23, &errors);
        phz_floor_begin(0);   /* nothing is live: the floor is the base */
        phz_floor_end();
    }
    phz_stop();

    printf("idle_phases=%d\n", phz.nidle);
    printf("trickle_calls=%" PRIu64 "\n", trickle_calls);
    printf("verify_errors=%" PRIu64 "\n", errors);
    printf("ops=%" PRIu64 "\n", n_ops);
    printf("# measured (varies run to run)\n");
    printf("throughput=%.0f\n", n_ops / (busy_s > 0 ? busy_s : 1e-9));
    printf("busy_s=%.4f\n", busy_s);
    phz_report();
    bench_end();
    return errors ? 3 : 0;
}
