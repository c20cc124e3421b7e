/* realloc heavy (the seed's third weak workload).
 *
 * Three patterns, every realloc call timed with rdtscp (timer cost subtracted,
 * TSC calibrated against CLOCK_MONOTONIC):
 *   grow_small : `strings` buffers grown in an interleaved random order by small
 *                appends (1..64 bytes) up to a per-string target (256 B..64 KiB),
 *                the appended bytes written -- string building;
 *   double     : one buffer doubled from 16 B to 16 MiB (new half touched), `rounds` times;
 *   shrink     : one 16 MiB buffer halved down to 16 B, `rounds` times.
 * Contents are checked after every call (verify_errors must be 0).
 * Reports ns per call p50/p99/max/mean per pattern and over all calls.
 */
#include "bench_common.h"

static uint64_t errors, calls;

static inline void *timed_realloc(void *p, size_t n, lat_t *l, lat_t *all)
{
    unsigned aux;
    uint64_t a = __rdtscp(&aux);
    void *q = realloc(p, n);
    uint64_t b = __rdtscp(&aux);
    if (!q) die("realloc");
    double ns = lat_ns(a, b);
    lat_add(l, ns);
    lat_add(all, ns);
    calls++;
    return q;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("realloc_heavy");
    long nstr = bench_param("strings", 1000, 4000, 24000);
    long rounds = bench_param("rounds", 8, 30, 160);
    long seed = bench_param("seed", 42, 42, 42);
    calibrate();

    lat_t lg = {0}, ld = {0}, ls = {0}, la = {0};
    lg.cap = la.cap = 1 << 20;
    lg.v = malloc(lg.cap * sizeof(float));
    la.v = malloc(la.cap * sizeof(float));
    rng_t r;
    rng_seed(&r, (uint64_t)seed);
    unsigned char **sp = calloc((size_t)nstr, sizeof *sp);
    size_t *len = calloc((size_t)nstr, sizeof *len), *target = calloc((size_t)nstr, sizeof *target);
    long *active = calloc((size_t)nstr, sizeof *active);
    if (!sp || !len || !target || !active || !lg.v || !la.v) die("calloc");
    uint64_t bytes_written = 0;

    bench_clock_start();
    /* grow_small */
    long nact = nstr;
    for (long i = 0; i < nstr; i++) { target[i] = rng_logsize(&r, 256, 65536); active[i] = i; }
    while (nact > 0) {
        long k = (long)rng_below(&r, (uint64_t)nact), i = active[k];
        size_t add = rng_range(&r, 1, 64), old = len[i];
        sp[i] = timed_realloc(sp[i], old + add, &lg, &la);
        if (old && sp[i][old - 1] != (unsigned char)(i + old - 1)) errors++;
        for (size_t j = old; j < old + add; j++) sp[i][j] = (unsigned char)(i + j);
        bytes_written += add;
        len[i] = old + add;
        if (len[i] >= target[i]) active[k] = active[--nact];
    }
    for (long i = 0; i < nstr; i++) {
        if (sp[i][0] != (unsigned char)i || sp[i][len[i] - 1] != (unsigned char)(i + len[i] - 1)) errors++;
        free(sp[i]);
    }
    /* double and shrink */
    for (long k = 0; k < rounds; k++) {
        size_t n = 16;
        unsigned char *p = malloc(n);
        if (!p) die("malloc");
        memset(p, (int)k, n);
        while (n < (16u << 20)) {
            p = timed_realloc(p, n * 2, &ld, &la);
            if (p[0] != (unsigned char)k || p[n - 1] != (unsigned char)k) errors++;
            for (size_t j = n; j < 2 * n; j += 4096) p[j] = (unsigned char)k;
            p[2 * n - 1] = (unsigned char)k;
            n *= 2;
        }
        p[0] = (unsigned char)(k + 1);
        while (n > 16) {
            p = timed_realloc(p, n / 2, &ls, &la);
            if (p[0] != (unsigned char)(k + 1)) errors++;
            n /= 2;
            p[n - 1] = (unsigned char)k;
        }
        free(p);
    }
    bench_clock_stop();

    printf("realloc_calls=%" PRIu64 "\n", calls);
    printf("bytes_appended=%" PRIu64 "\n", bytes_written);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(calls);
    printf("timer_cost_ns=%.1f\n", timer_ticks * tsc_ns);
    /* on some VMs rdtscp advances in coarse steps: percentiles are quantised to this */
    printf("timer_resolution_ns=%.1f\n", tsc_step * tsc_ns);
    lat_print("realloc", &la);
    lat_print("grow_small", &lg);
    lat_print("double", &ld);
    lat_print("shrink", &ls);
    bench_end();
    return errors ? 3 : 0;
}
