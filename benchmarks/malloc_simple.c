/* glibc's own malloc benchmark shape (benchtests/bench-malloc-simple, also in
 * mimalloc-bench as glibc-simple): one thread allocates a set of `n` blocks of
 * one small size, writes them, and frees them again, over and over.  Here the
 * frees go half in allocation order (FIFO: blocks 0 .. n/2-1) and half in reverse
 * (LIFO: blocks n-1 down to n/2), so both the "oldest first" and the "newest
 * first" reuse orders of a thread cache are exercised.
 *
 * Cases: sizes `size`, 2x`size`, 4x`size` (16, 32, 64 B) x set sizes 25, 100,
 * 400, `max_blocks` (1600) -- the glibc benchmark's counts: 25 fits any thread
 * cache, 1600 overflows most.  Each case does `allocs` allocations in all
 * (allocs / n rounds of n).  Every block is filled with a tag byte (memset, the
 * whole block) and its first, middle and last byte are checked before it is
 * freed.  Reported as time: `wall_s` of the whole measured region, and per
 * set size `ns_per_pair_nN` (one malloc + write + free, all three sizes).
 */
#include "bench_common.h"

static int check(unsigned char *p, size_t sz, unsigned char tag)
{
    return p[0] != tag || p[sz / 2] != tag || p[sz - 1] != tag;
}

/* rounds x (allocate n blocks of sz, write them, free half FIFO, half LIFO);
 * returns the number of blocks whose contents had changed */
static uint64_t run_case(unsigned char **arr, long n, size_t sz, long rounds)
{
    uint64_t errors = 0;
    for (long j = 0; j < rounds; j++) {
        for (long i = 0; i < n; i++) {
            arr[i] = xmalloc(sz);
            memset(arr[i], (int)(((unsigned long)i * 7 + (unsigned long)j) | 1) & 0xff, sz);
        }
        for (long i = 0; i < n / 2; i++) {
            errors += check(arr[i], sz, (unsigned char)(((unsigned long)i * 7 + (unsigned long)j) | 1));
            free(arr[i]);
        }
        for (long i = n - 1; i >= n / 2; i--) {
            errors += check(arr[i], sz, (unsigned char)(((unsigned long)i * 7 + (unsigned long)j) | 1));
            free(arr[i]);
        }
    }
    return errors;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("malloc_simple");
    long size = bench_param("size", 16, 16, 16);
    long max_blocks = bench_param("max_blocks", 1600, 1600, 1600);
    long allocs = bench_param("allocs", 200000, 2000000, 8000000);
    if (size < 1 || max_blocks < 4 || allocs < max_blocks) { fprintf(stderr, "bad parameters\n"); return 2; }
    const long counts[4] = {25, 100, 400, max_blocks};
    unsigned char **arr = calloc((size_t)max_blocks, sizeof *arr);
    if (!arr) die("calloc");

    uint64_t errors = 0, pairs = 0;
    /* warm-up: one round of every case, outside the clock */
    for (int s = 0; s < 3; s++)
        for (int c = 0; c < 4; c++) errors += run_case(arr, counts[c], (size_t)size << s, 1);

    double t_count[4] = {0};
    uint64_t p_count[4] = {0};
    bench_clock_start();
    for (int s = 0; s < 3; s++)
        for (int c = 0; c < 4; c++) {
            long rounds = allocs / counts[c];
            double t0 = now_s();
            errors += run_case(arr, counts[c], (size_t)size << s, rounds);
            t_count[c] += now_s() - t0;
            p_count[c] += (uint64_t)rounds * (uint64_t)counts[c];
        }
    bench_clock_stop();
    for (int c = 0; c < 4; c++) pairs += p_count[c];
    free(arr);
    printf("pairs=%" PRIu64 "\n", pairs);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(2 * pairs);   /* ops = mallocs + frees, as in the other workloads */
    for (int c = 0; c < 4; c++)
        printf("ns_per_pair_n%ld=%.2f\n", counts[c], 1e9 * t_count[c] / (double)p_count[c]);
    bench_end();
    return errors ? 3 : 0;
}
