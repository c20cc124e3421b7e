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
 * stats_ms=N (N > 0) adds a thread that calls hak_stats_json every N ms while
 * the workers run (found with dlsym: absent under other allocators), to
 * measure what polling the statistics costs the workload; stats_noop=1 keeps
 * the poller's wake-ups but leaves the call out (the baseline for the call).
 */
#include <dlfcn.h>
#include "bench_common.h"

typedef struct { unsigned char *p; uint32_t n; unsigned char tag; } blk_t;
static long nthreads, slots, nops, smin, smax, p2min, p2max, p2slots, seed;

typedef struct { int id; uint64_t ops, errors; lat_t lat; } BENCH_PER_THREAD targ_t;

static volatile int workers_done;
static uint64_t stats_calls, stats_ns, stats_cpu_ns, worker_cpu_ns;
static long stats_noop;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* hak_stats_json every `period` ms on an absolute schedule */
static void *poller(void *arg)
{
    long period = *(long *)arg;
    static char buf[65536];
    size_t (*fn)(char *, size_t) = (size_t (*)(char *, size_t))dlsym(RTLD_DEFAULT, "hak_stats_json");
    if (!fn) {
        fprintf(stderr, "stats_ms: no hak_stats_json (not hakmem): the poller does nothing\n");
        return NULL;
    }
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!workers_done) {
        uint64_t t0 = now_ns();
        if (!stats_noop)
            fn(buf, sizeof buf);
        stats_ns += now_ns() - t0;
        stats_calls++;
        next.tv_nsec += period * 1000000L;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    stats_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

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
    __atomic_fetch_add(&worker_cpu_ns, clock_ns(CLOCK_THREAD_CPUTIME_ID), __ATOMIC_RELAXED);
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
    long stats_ms = bench_param("stats_ms", 0, 0, 0);
    stats_noop = bench_param("stats_noop", 0, 0, 0);
    if (nthreads < 1 || slots < 1 || smin < 1 || smax < smin) { fprintf(stderr, "bad parameters\n"); return 2; }

    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    targ_t *ta = bench_per_thread((size_t)nthreads, sizeof *ta);
    pthread_t pth;
    bench_clock_start();
    if (stats_ms > 0 && pthread_create(&pth, NULL, poller, &stats_ms)) die("pthread_create");
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
    if (stats_ms > 0) {
        workers_done = 1;
        pthread_join(pth, NULL);
        printf("stats_calls=%" PRIu64 " stats_call_us=%.1f stats_cpu_s=%.4f\n", stats_calls,
               stats_calls ? stats_ns / 1e3 / (double)stats_calls : 0.0, stats_cpu_ns / 1e9);
    }
    /* the workers' own CPU time per operation: what polling costs them beyond the poller's CPU */
    printf("worker_cpu_ns_per_op=%.2f\n", (double)worker_cpu_ns / (double)(ops ? ops : 1));
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(ops);
    lat_print("call", &all);
    bench_end();
    return errors ? 3 : 0;
}
