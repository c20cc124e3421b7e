/* Per-thread random-replace churn, the shape of several rows:
 *   small_churn   threads=1  16 B..256 B  (single-thread small churn)
 *   mid_mt        threads=4  1 KiB..32 KiB (the seed's Mid MT row)
 *   mid_mt16      threads=16 1 KiB..32 KiB (the seed's 16-thread row; oversubscribed on 2 cores)
 *   phase_change  threads=2  16 B..256 B for the first half, then every block is
 *                 freed and the sizes become 1 KiB..32 KiB (a knob setting good
 *                 for one phase is wrong for the other)
 * Each thread owns `slots` slots; a step frees a random slot (checking its stamp)
 * and allocates a new block there.  The total number of steps is fixed and split
 * over the threads, so every row does the same work whatever the thread count.
 */
#include "bench_common.h"

typedef struct { unsigned char *p; uint32_t n; unsigned char tag; } blk_t;
static long nthreads, slots, nops, smin, smax, p2min, p2max, p2slots, seed;

typedef struct { int id; uint64_t ops, errors; lat_t lat; } targ_t;

static void run_phase(targ_t *t, rng_t *r, blk_t *s, long ns, long steps, size_t lo, size_t hi, uint64_t *idn)
{
    for (long k = 0; k < steps; k++) {
        blk_t *x = &s[rng_below(r, (uint64_t)ns)];
        if (x->p) {
            if (x->p[0] != x->tag || x->p[x->n - 1] != x->tag) t->errors++;
            BENCH_TIMED(&t->lat, free(x->p));
            t->ops++;
        }
        size_t sz = rng_logsize(r, lo, hi);
        BENCH_TIMED(&t->lat, x->p = xmalloc(sz));
        x->n = (uint32_t)sz;
        x->tag = (unsigned char)(++*idn * 131);
        touch(x->p, sz, x->tag);
        t->ops++;
    }
    for (long i = 0; i < ns; i++)
        if (s[i].p) {
            free(s[i].p);
            s[i].p = NULL;
            t->ops++;
        }
}

static void *worker(void *arg)
{
    targ_t *t = arg;
    rng_t r;
    rng_seed(&r, (uint64_t)seed * 7919 + (uint64_t)t->id);
    long maxs = slots > p2slots ? slots : p2slots;
    blk_t *s = calloc((size_t)maxs, sizeof *s);
    if (!s) die("calloc");
    uint64_t idn = (uint64_t)t->id << 40;
    long steps = nops / nthreads;
    if (p2max) {
        run_phase(t, &r, s, slots, steps / 2, (size_t)smin, (size_t)smax, &idn);
        run_phase(t, &r, s, p2slots, steps - steps / 2, (size_t)p2min, (size_t)p2max, &idn);
    } else {
        run_phase(t, &r, s, slots, steps, (size_t)smin, (size_t)smax, &idn);
    }
    free(s);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    const char *name = "mt_churn";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "name=", 5)) name = argv[i] + 5;
    bench_begin(name);
    nthreads = bench_param("threads", 4, 4, 4);
    slots = bench_param("slots", 1000, 1000, 1000);
    nops = bench_param("ops", 2000000, 8000000, 32000000);
    smin = bench_param("min", 1024, 1024, 1024);
    smax = bench_param("max", 32768, 32768, 32768);
    p2min = bench_param("p2min", 0, 0, 0);
    p2max = bench_param("p2max", 0, 0, 0);
    p2slots = bench_param("p2slots", slots, slots, slots);
    seed = bench_param("seed", 42, 42, 42);
    bench_lat_init();
    if (nthreads < 1 || slots < 1 || smin < 1 || smax < smin) { fprintf(stderr, "bad parameters\n"); return 2; }

    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    targ_t *ta = calloc((size_t)nthreads, sizeof *ta);
    bench_clock_start();
    for (long i = 0; i < nthreads; i++) {
        ta[i].id = (int)i;
        if (pthread_create(&th[i], NULL, worker, &ta[i])) die("pthread_create");
    }
    uint64_t ops = 0, errors = 0;
    for (long i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        ops += ta[i].ops;
        errors += ta[i].errors;
    }
    bench_clock_stop();
    lat_t all = {0};
    for (long i = 0; i < nthreads; i++) lat_merge(&all, &ta[i].lat);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(ops);
    lat_print("call", &all);
    bench_end();
    return errors ? 3 : 0;
}
