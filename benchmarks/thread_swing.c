/* thread_swing: the thread count swings from 2 to 16 and back, and the extra
 * threads stay alive but idle.
 *
 * Why: per-thread caches (tcache, magazines, thread heaps) and the pages of
 * blocks freed by other threads are memory that only their owner's next call
 * gives back -- and a thread blocked on a condition variable makes no call.
 * Thread exit would flush them; a worker pool that shrinks by parking its
 * threads does not exit them.  Whether an allocator reclaims what idle threads
 * hold (from a helper thread, or when the remaining threads call it), and at
 * what CPU cost while 16 threads churn with remote frees, is the trade ACE v3
 * prices (CPU-s against MiB x s).
 *
 * Phases (blocks 16 B-16 KiB, log-uniform, `slots` (2000) live per thread,
 * each replacement: check stamps, free, malloc, stamp every 4 KiB page):
 *   1  two threads churn: ops1 replacements each (about 0.8 s under glibc)
 *   2  fourteen more threads are created; all sixteen fill their slots and
 *      churn ops2 replacements each (about 0.8 s in all); one evicted block in
 *      remote_every (4) is not freed but pushed on the thread's handoff ring
 *      (single producer, single consumer), which the next thread (t + 1 mod
 *      16) drains and frees: remote frees; at the end each ring is drained
 *   3  the fourteen free all their blocks and block on a condition variable
 *      (alive, idle: no allocator call); the two original threads churn ops3
 *      replacements each (about 0.8 s)
 *   idle  trickle for idle_ms (2000), the fourteen still blocked: every
 *      tick_ms (50) each original thread allocates `trickle` (200) blocks of
 *      16-512 B, then frees them; then rss_after_idle1_kb and floor_idle1_kb
 *      (base RSS + pages holding the two threads' live blocks)
 * then all threads are released and joined.  Parameters were fixed before any
 * allocator was compared (op counts from glibc's rate); never tuned to make
 * one win.  ops = replacements and fills; throughput = ops / wall time of the
 * three churn phases; wall_s, cpu_s, mib_s cover the whole measured region. */
#include "phased_common.h"
#include <stdatomic.h>

#define NLO 2
/* entries per handoff ring (a power of two): with 16 threads on 2 cores a
 * consumer is often not running, so the ring bounds what waits in flight
 * (at most 16 x 1024 blocks); a full ring makes the free local */
#define RING 1024

static long nhi, slots, ops1, ops2, ops3, remote_every, idle_ms, tick_ms, trickle, seed;

typedef struct { unsigned char *p; uint32_t len; uint32_t gen; uint64_t id; } ent_t;

/* a thread's outbox: it pushes at head, its successor pops at tail; the two
 * indices on lines of their own */
typedef struct {
    _Atomic uint64_t head BENCH_PER_THREAD;
    _Atomic uint64_t tail BENCH_PER_THREAD;
    ent_t e[RING];
} BENCH_PER_THREAD ring_t;

typedef struct {
    rng_t r;
    uint64_t ops, errors, gen, trickle_calls, remote;
    unsigned char **blk;
    uint32_t *len, *bgen;
} BENCH_PER_THREAD worker_t;

static worker_t *W;
static ring_t *R;
static pthread_barrier_t bar_lo, bar_hi;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_blocked = PTHREAD_COND_INITIALIZER, cv_release = PTHREAD_COND_INITIALIZER;
static int blocked, released;
static double churn_s, phase_s[3];

static uint64_t blk_id(long t, long k) { return (uint64_t)t << 24 | (uint64_t)k; }

static void put(worker_t *w, long t, long k)
{
    size_t n = rng_logsize(&w->r, 16, 16384);
    w->blk[k] = xmalloc(n);
    w->len[k] = (uint32_t)n;
    w->bgen[k] = (uint32_t)++w->gen;
    bench_fill_pages(w->blk[k], n, blk_id(t, k), w->bgen[k]);
}
static void drop(worker_t *w, long t, long k)
{
    w->errors += bench_check_pages(w->blk[k], w->len[k], blk_id(t, k), w->bgen[k]);
    free(w->blk[k]);
    w->blk[k] = NULL;
}

/* evict slot k: pushed on the outbox (remote) or freed here */
static void evict(worker_t *w, long t, long k, int remote)
{
    ring_t *o = &R[t];
    uint64_t h = atomic_load_explicit(&o->head, memory_order_relaxed);
    if (remote && h - atomic_load_explicit(&o->tail, memory_order_acquire) < RING) {
        o->e[h % RING] = (ent_t){w->blk[k], w->len[k], w->bgen[k], blk_id(t, k)};
        atomic_store_explicit(&o->head, h + 1, memory_order_release);
        w->blk[k] = NULL;
        w->remote++;
    } else {
        drop(w, t, k);
    }
}

/* free what the predecessor handed over (at most max entries) */
static void drain(worker_t *w, long t, uint64_t max)
{
    ring_t *in = &R[(t + nhi - 1) % nhi];
    uint64_t tl = atomic_load_explicit(&in->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&in->head, memory_order_acquire);
    for (uint64_t n = 0; tl != h && n < max; tl++, n++) {
        ent_t *e = &in->e[tl % RING];
        w->errors += bench_check_pages(e->p, e->len, e->id, e->gen);
        free(e->p);
    }
    atomic_store_explicit(&in->tail, tl, memory_order_release);
}

static void churn(worker_t *w, long t, long ops, int remote)
{
    for (long k = 0; k < slots; k++)
        if (!w->blk[k]) { put(w, t, k); w->ops++; }
    for (long i = 0; i < ops; i++) {
        long k = (long)rng_below(&w->r, (uint64_t)slots);
        evict(w, t, k, remote && rng_below(&w->r, (uint64_t)remote_every) == 0);
        put(w, t, k);
        if (remote) drain(w, t, 8);   /* twice the push rate: a running consumer keeps up */
        w->ops++;
    }
}

static void *worker(void *arg)
{
    long t = (long)(intptr_t)arg;
    worker_t *w = &W[t];
    double t0 = now_s();
    if (t < NLO) {
        churn(w, t, ops1, 0);
        pthread_barrier_wait(&bar_lo);
        if (t == 0) churn_s += phase_s[0] = now_s() - t0;
    }
    /* phase 2: everyone (the new threads start here) */
    pthread_barrier_wait(&bar_hi);
    t0 = now_s();
    churn(w, t, ops2, 1);
    pthread_barrier_wait(&bar_hi);
    drain(w, t, UINT64_MAX);   /* every producer has stopped */
    pthread_barrier_wait(&bar_hi);
    if (t == 0) churn_s += phase_s[1] = now_s() - t0;
    if (t >= NLO) {
        /* phase 3: free everything, then park (alive, no allocator calls) */
        for (long k = 0; k < slots; k++)
            if (w->blk[k]) drop(w, t, k);
        pthread_mutex_lock(&mu);
        blocked++;
        pthread_cond_broadcast(&cv_blocked);
        while (!released) pthread_cond_wait(&cv_release, &mu);
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    t0 = now_s();
    churn(w, t, ops3, 0);
    pthread_barrier_wait(&bar_lo);
    if (t == 0) {
        churn_s += phase_s[2] = now_s() - t0;
        pthread_mutex_lock(&mu);
        while (blocked < nhi - NLO) pthread_cond_wait(&cv_blocked, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_barrier_wait(&bar_lo);
    w->trickle_calls += phz_trickle(&w->r, idle_ms, tick_ms, trickle, (uint64_t)t << 24 | 1 << 23, &w->errors);
    pthread_barrier_wait(&bar_lo);
    if (t == 0) {
        phz_floor_begin((size_t)NLO * (size_t)slots * 6);
        for (long j = 0; j < NLO; j++)
            phz_floor_slots(W[j].blk, W[j].len, slots);
        phz_floor_end();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("thread_swing");
    nhi = bench_param("threads_hi", 16, 16, 16);
    slots = bench_param("slots", 500, 2000, 2000);
    ops1 = bench_param("ops1", 20000, 8000000, 8000000);
    ops2 = bench_param("ops2", 2500, 500000, 500000);
    ops3 = bench_param("ops3", 20000, 8000000, 8000000);
    remote_every = bench_param("remote_every", 4, 4, 4);
    idle_ms = bench_param("idle_ms", 200, 2000, 2000);
    tick_ms = bench_param("tick_ms", 50, 50, 50);
    trickle = bench_param("trickle", 200, 200, 200);
    seed = bench_param("seed", 42, 42, 42);
    if (nhi <= NLO || nhi > 1 << 16 || slots < 1 || ops1 < 0 || ops2 < 0 || ops3 < 0 || remote_every < 1 ||
        tick_ms < 1 || trickle < 0) {
        fprintf(stderr, "thread_swing: bad parameters\n");
        return 2;
    }
    W = bench_per_thread((size_t)nhi, sizeof *W);
    R = bench_per_thread((size_t)nhi, sizeof *R);
    for (long t = 0; t < nhi; t++) {
        worker_t *w = &W[t];
        rng_seed(&w->r, (uint64_t)seed * 1000003u + (uint64_t)t);
        w->blk = phz_meta((size_t)slots * sizeof *w->blk);
        w->len = phz_meta((size_t)slots * sizeof *w->len);
        w->bgen = phz_meta((size_t)slots * sizeof *w->bgen);
    }
    pthread_barrier_init(&bar_lo, NULL, NLO);
    pthread_barrier_init(&bar_hi, NULL, (unsigned)nhi);
    pthread_t *th = phz_meta((size_t)nhi * sizeof *th);
    phz_init();
    phz_start();
    for (long t = 1; t < NLO; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) die("pthread_create");
    /* thread 0 starts phase 1 while it creates the others: they wait at bar_hi */
    for (long t = NLO; t < nhi; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) die("pthread_create");
    worker((void *)0);
    pthread_mutex_lock(&mu);
    released = 1;
    pthread_cond_broadcast(&cv_release);
    pthread_mutex_unlock(&mu);
    for (long t = 1; t < nhi; t++) pthread_join(th[t], NULL);
    phz_stop();

    uint64_t ops = 0, errors = 0, trickle_calls = 0, remote = 0;
    for (long t = 0; t < nhi; t++) {
        worker_t *w = &W[t];
        for (long k = 0; k < slots; k++)
            if (w->blk[k]) drop(w, t, k);
        ops += w->ops, errors += w->errors, trickle_calls += w->trickle_calls, remote += w->remote;
    }
    printf("blocked_threads=%d\n", blocked);
    printf("idle_phases=%d\n", phz.nidle);
    printf("trickle_calls=%" PRIu64 "\n", trickle_calls);
    printf("verify_errors=%" PRIu64 "\n", errors);
    printf("ops=%" PRIu64 "\n", ops);
    printf("# measured (varies run to run)\n");
    printf("remote_frees=%" PRIu64 "\n", remote);
    printf("throughput=%.0f\n", ops / (churn_s > 0 ? churn_s : 1e-9));
    printf("churn_s=%.4f\n", churn_s);
    for (int i = 0; i < 3; i++) printf("phase%d_s=%.4f\n", i + 1, phase_s[i]);
    phz_report();
    bench_end();
    return errors ? 3 : 0;
}
