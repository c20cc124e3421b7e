/* Larson-style server (Larson & Krishnan, "Memory allocation for long-running
 * server applications").  `threads` worker lineages each own an array of
 * `blocks` blocks (log-uniform min..max).  A worker does `rounds` steps of
 * "free a random block, allocate a new one there", then starts a fresh thread
 * that inherits the array and exits -- so blocks are freed by threads other than
 * the one that allocated them, and threads come and go like server connections.
 * The initial arrays are allocated by the main thread.  `gens` generations per
 * lineage; total work = threads x gens x rounds steps.
 */
#include "bench_common.h"

typedef struct { unsigned char *p; uint32_t n; unsigned char tag; } blk_t;
static long nthreads, nblocks, rounds, gens, smin, smax, seed;

typedef struct { int lineage, gen; blk_t *arr; uint64_t ops, errors; rng_t r; } BENCH_PER_THREAD warg_t;

static void *worker(void *arg)
{
    warg_t *w = arg;
    for (long k = 0; k < rounds; k++) {
        blk_t *x = &w->arr[rng_below(&w->r, (uint64_t)nblocks)];
        if (x->p[0] != x->tag || x->p[x->n - 1] != x->tag) w->errors++;
        free(x->p);
        size_t sz = rng_logsize(&w->r, (size_t)smin, (size_t)smax);
        x->p = xmalloc(sz);
        x->n = (uint32_t)sz;
        x->tag = (unsigned char)(rng_next(&w->r) | 1);
        touch(x->p, sz, x->tag);
    }
    w->ops += 2 * (uint64_t)rounds;
    if (++w->gen < gens) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, w)) die("pthread_create");
        pthread_detach(t);
    } else {
        __atomic_store_n(&w->lineage, -1, __ATOMIC_RELEASE);  /* lineage finished */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("larson");
    nthreads = bench_param("threads", 4, 4, 4);
    nblocks = bench_param("blocks", 1000, 1000, 1000);
    rounds = bench_param("rounds", 20000, 20000, 20000);
    gens = bench_param("gens", 50, 300, 1200);
    smin = bench_param("min", 16, 16, 16);
    smax = bench_param("max", 1024, 1024, 1024);
    seed = bench_param("seed", 42, 42, 42);
    if (nthreads < 1 || nblocks < 1 || rounds < 1 || gens < 1 || smin < 1 || smax < smin) { fprintf(stderr, "bad parameters\n"); return 2; }

    warg_t *w = bench_per_thread((size_t)nthreads, sizeof *w);
    uint64_t init_ops = 0;
    for (long i = 0; i < nthreads; i++) {
        rng_seed(&w[i].r, (uint64_t)seed * 1009 + (uint64_t)i);
        w[i].lineage = (int)i;
        w[i].arr = calloc((size_t)nblocks, sizeof(blk_t));
        if (!w[i].arr) die("calloc");
        for (long j = 0; j < nblocks; j++) {
            size_t sz = rng_logsize(&w[i].r, (size_t)smin, (size_t)smax);
            w[i].arr[j].p = xmalloc(sz);
            w[i].arr[j].n = (uint32_t)sz;
            w[i].arr[j].tag = (unsigned char)(rng_next(&w[i].r) | 1);
            touch(w[i].arr[j].p, sz, w[i].arr[j].tag);
            init_ops++;
        }
    }
    bench_clock_start();
    for (long i = 0; i < nthreads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, &w[i])) die("pthread_create");
        pthread_detach(t);
    }
    for (long i = 0; i < nthreads; i++)
        while (__atomic_load_n(&w[i].lineage, __ATOMIC_ACQUIRE) != -1) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    bench_clock_stop();
    uint64_t ops = 0, errors = 0;
    for (long i = 0; i < nthreads; i++) {
        ops += w[i].ops;
        errors += w[i].errors;
        for (long j = 0; j < nblocks; j++) free(w[i].arr[j].p);
        free(w[i].arr);
    }
    printf("init_blocks=%" PRIu64 "\n", init_ops);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(ops);
    bench_end();
    return errors ? 3 : 0;
}
