/* Huge working set (the seed's second weak workload): a live set far above the
 * LLC (32 MiB here), random replace.
 *
 * Each thread owns live_mb/threads MiB of blocks (log-uniform sizes min..max),
 * then does `ops` replace steps: pick `batch` random slots, check and free them,
 * allocate `batch` new blocks (stamped), and -- when batch > 1 -- read the new
 * batch back `passes` times (a program that builds and walks a short-lived
 * group of objects inside a huge heap; its speed depends on where the allocator
 * puts the group, which is what the TLS capacity / diet knobs change).
 *
 * Variants used by the runner:
 *   huge_ws      threads=1 batch=1  sizes 16..1024
 *   huge_ws_tls  threads=2 batch=48 sizes 16..256 passes=4 (written so that the
 *                TLS capacity and diet knobs matter; see README in benchmarks/)
 */
#include "bench_common.h"

typedef struct { unsigned char *p; uint32_t n; unsigned char tag; } blk_t;

static long live_mb, nops, batch, passes, smin, smax, nthreads, seed;

typedef struct {
    int id;
    uint64_t ops, errors, sum;
    lat_t lat;
    pthread_barrier_t *bar;
} BENCH_PER_THREAD targ_t;

static void *worker(void *arg)
{
    targ_t *t = arg;
    rng_t r;
    rng_seed(&r, (uint64_t)seed * 1000 + t->id);
    size_t bytes = ((size_t)live_mb << 20) / (size_t)nthreads, got = 0, n = 0;
    size_t avg = 0;
    for (int i = 0; i < 4096; i++) avg += rng_logsize(&r, (size_t)smin, (size_t)smax);
    avg /= 4096;
    size_t cap = bytes / avg * 2 + 1024;
    blk_t *s = malloc(cap * sizeof *s);
    blk_t **cur = malloc((size_t)batch * sizeof *cur);
    if (!s || !cur) die("malloc");
    uint64_t idn = (uint64_t)t->id << 40;
    while (got < bytes && n < cap) {
        size_t sz = rng_logsize(&r, (size_t)smin, (size_t)smax);
        s[n].p = xmalloc(sz);
        s[n].n = (uint32_t)sz;
        s[n].tag = (unsigned char)(++idn * 131);
        touch(s[n].p, sz, s[n].tag);
        got += sz;
        n++;
    }
    t->ops += n;
    pthread_barrier_wait(t->bar);   /* fill done: start of the measured region */
    pthread_barrier_wait(t->bar);
    long steps = nops / nthreads / batch;
    for (long k = 0; k < steps; k++) {
        for (long b = 0; b < batch; b++) {
            blk_t *x = &s[rng_below(&r, n)];
            if (x->p[0] != x->tag || x->p[x->n - 1] != x->tag) t->errors++;
            BENCH_TIMED(&t->lat, free(x->p));
            size_t sz = rng_logsize(&r, (size_t)smin, (size_t)smax);
            BENCH_TIMED(&t->lat, x->p = xmalloc(sz));
            x->n = (uint32_t)sz;
            x->tag = (unsigned char)(++idn * 131);
            touch(x->p, sz, x->tag);
            cur[b] = x;
        }
        if (batch > 1)
            for (long p = 0; p < passes; p++)
                for (long b = 0; b < batch; b++) t->sum += cur[b]->p[0] + cur[b]->p[cur[b]->n - 1];
        t->ops += 2 * (uint64_t)batch;
    }
    pthread_barrier_wait(t->bar);
    for (size_t i = 0; i < n; i++) free(s[i].p);
    free(s);
    free(cur);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    const char *name = "huge_ws";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "name=", 5)) name = argv[i] + 5;
    bench_begin(name);
    live_mb = bench_param("live_mb", 64, 512, 1024);
    nops = bench_param("ops", 1000000, 4000000, 16000000);
    nthreads = bench_param("threads", 1, 1, 1);
    batch = bench_param("batch", 1, 1, 1);
    passes = bench_param("passes", 0, 0, 0);
    smin = bench_param("min", 16, 16, 16);
    smax = bench_param("max", 1024, 1024, 1024);
    seed = bench_param("seed", 42, 42, 42);
    bench_lat_init();
    if (nthreads < 1 || batch < 1) { fprintf(stderr, "bad parameters\n"); return 2; }

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    targ_t *ta = bench_per_thread((size_t)nthreads, sizeof *ta);
    double tf = now_s();
    for (long i = 0; i < nthreads; i++) {
        ta[i].id = (int)i;
        ta[i].bar = &bar;
        if (pthread_create(&th[i], NULL, worker, &ta[i])) die("pthread_create");
    }
    pthread_barrier_wait(&bar);
    double fill_s = now_s() - tf;
    bench_clock_start();
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    bench_clock_stop();
    uint64_t ops = 0, errors = 0, fillops = 0;
    for (long i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    for (long i = 0; i < nthreads; i++) {
        errors += ta[i].errors;
        ops += ta[i].ops;
    }
    /* ops counted for throughput: the replace steps only (fill is reported apart) */
    uint64_t steps_ops = 2 * (uint64_t)(nops / nthreads / batch) * (uint64_t)batch * (uint64_t)nthreads;
    fillops = ops - steps_ops;
    printf("fill_blocks=%" PRIu64 "\n", fillops);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(steps_ops);
    printf("fill_s=%.4f\n", fill_s);
    lat_t all = {0};
    for (long i = 0; i < nthreads; i++) lat_merge(&all, &ta[i].lat);
    lat_print("call", &all);
    bench_end();
    return errors ? 3 : 0;
}
