/* False sharing (Hoard's cache-scratch).  The main thread allocates one small
 * object per thread, one after another (so they likely share cache lines), and
 * hands one to each thread.  Each thread frees its object, then `iterations`
 * times: malloc(objsize), write every byte `repeat` times, free.  An allocator
 * that gives a thread memory on a cache line another thread also writes makes
 * this slow (passive false sharing).  ops = mallocs + frees; the writes are the
 * bulk of the time, so compare wall time / throughput.
 */
#include "bench_common.h"

static long nthreads, iterations, repeat, objsize;

typedef struct { char *obj; uint64_t ops; } BENCH_PER_THREAD targ_t;

static void *worker(void *arg)
{
    targ_t *t = arg;
    free(t->obj);
    t->ops++;
    for (long i = 0; i < iterations; i++) {
        volatile char *p = xmalloc((size_t)objsize);
        for (long r = 0; r < repeat; r++)
            for (long j = 0; j < objsize; j++) {
                p[j] = (char)(i + j);
                (void)p[j];
            }
        free((void *)p);
        t->ops += 2;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("cache_scratch");
    nthreads = bench_param("threads", 2, 2, 2);
    iterations = bench_param("iterations", 400000, 2000000, 8000000);
    repeat = bench_param("repeat", 32, 32, 32);
    objsize = bench_param("objsize", 8, 8, 8);
    if (nthreads < 1 || objsize < 1) { fprintf(stderr, "bad parameters\n"); return 2; }
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    targ_t *ta = bench_per_thread((size_t)nthreads, sizeof *ta);
    for (long i = 0; i < nthreads; i++) ta[i].obj = xmalloc((size_t)objsize);
    bench_clock_start();
    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker, &ta[i])) die("pthread_create");
    uint64_t ops = 0;
    for (long i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        ops += ta[i].ops;
    }
    bench_clock_stop();
    bench_report(ops);
    bench_end();
    return 0;
}
