/* Producer/consumer cross-thread frees (xmalloc-test style).
 *
 * `pairs` producer/consumer pairs.  A producer allocates blocks (log-uniform
 * min..max, stamped), groups them in batches of `batch` and hands each batch to
 * its consumer through a bounded queue (`depth` batches); the consumer checks
 * and frees them, so every free is a remote free for the allocator.
 *   xmalloc_small  sizes 16..128
 *   xmalloc_mid    sizes 1 KiB..64 KiB
 *   remote_heavy   sizes 16..1024 over ~30 size classes, small batches: the
 *                  remote-free backlog per class is what the drain threshold
 *                  bounds, so a low threshold keeps the footprint small.
 * A producer also keeps `keep` blocks of its own live (random replace, one in
 * eight steps) so it is not a pure pipe.
 */
#include "bench_common.h"

static long pairs, nobj, batch, depth, smin, smax, keep, seed;

typedef struct { void **v; } bat_t;
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    bat_t *ring;
    long head, tail, count;
    int done;
    uint64_t errors, frees, allocs;
    int id;
} BENCH_PER_THREAD q_t;

static void *producer(void *arg)
{
    q_t *q = arg;
    rng_t r;
    rng_seed(&r, (uint64_t)seed * 31 + (uint64_t)q->id);
    unsigned char **own = calloc((size_t)keep + 1, sizeof *own);
    long per = nobj / pairs, nb = per / batch;
    for (long b = 0; b < nb; b++) {
        void **v = malloc((size_t)batch * sizeof *v);
        if (!v) die("malloc");
        q->allocs++;
        for (long i = 0; i < batch; i++) {
            size_t sz = rng_logsize(&r, (size_t)smin, (size_t)smax);
            unsigned char *p = xmalloc(sz);
            /* stamp: size in the first 4 bytes when it fits, tag in the last byte */
            unsigned char tag = (unsigned char)((sz * 7 + 1) | 1);
            p[0] = tag;
            p[sz - 1] = tag;
            memcpy(p + 1, &(uint32_t){(uint32_t)sz}, 4);
            v[i] = p;
            q->allocs++;
            if (keep && (rng_next(&r) & 7) == 0) {
                long k = (long)rng_below(&r, (uint64_t)keep);
                free(own[k]);
                own[k] = xmalloc(sz);
                own[k][0] = 1;
                q->allocs++;
                q->frees++;
            }
        }
        pthread_mutex_lock(&q->mu);
        while (q->count == depth) pthread_cond_wait(&q->nonfull, &q->mu);
        q->ring[q->tail].v = v;
        q->tail = (q->tail + 1) % depth;
        q->count++;
        pthread_cond_signal(&q->nonempty);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
    for (long k = 0; k < keep; k++) if (own[k]) { free(own[k]); q->frees++; }
    free(own);
    return NULL;
}

static void *consumer(void *arg)
{
    q_t *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->done) pthread_cond_wait(&q->nonempty, &q->mu);
        if (q->count == 0 && q->done) { pthread_mutex_unlock(&q->mu); break; }
        void **v = q->ring[q->head].v;
        q->head = (q->head + 1) % depth;
        q->count--;
        pthread_cond_signal(&q->nonfull);
        pthread_mutex_unlock(&q->mu);
        for (long i = 0; i < batch; i++) {
            unsigned char *p = v[i];
            uint32_t sz = 0;
            if (p[0] == 0) { q->errors++; }
            else {
                /* every block (>= 8 bytes) carries its size; check the last byte too */
                memcpy(&sz, p + 1, 4);
                if (sz < (uint32_t)smin || sz > (uint32_t)smax || p[sz - 1] != p[0]) q->errors++;
            }
            free(p);
        }
        free(v);
        q->frees += (uint64_t)batch + 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    const char *name = "prodcons";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "name=", 5)) name = argv[i] + 5;
    bench_begin(name);
    pairs = bench_param("pairs", 1, 1, 1);
    nobj = bench_param("objects", 2000000, 8000000, 32000000);
    batch = bench_param("batch", 64, 64, 64);
    depth = bench_param("depth", 16, 16, 16);
    smin = bench_param("min", 16, 16, 16);
    smax = bench_param("max", 128, 128, 128);
    keep = bench_param("keep", 1024, 1024, 1024);
    seed = bench_param("seed", 42, 42, 42);
    if (pairs < 1 || batch < 1 || depth < 1 || smin < 8 || smax < smin) { fprintf(stderr, "bad parameters\n"); return 2; }

    q_t *qs = bench_per_thread((size_t)pairs, sizeof *qs);
    pthread_t *th = calloc(2 * (size_t)pairs, sizeof *th);
    bench_clock_start();
    for (long i = 0; i < pairs; i++) {
        q_t *q = &qs[i];
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->nonempty, NULL);
        pthread_cond_init(&q->nonfull, NULL);
        q->ring = calloc((size_t)depth, sizeof *q->ring);
        q->id = (int)i;
        if (pthread_create(&th[2 * i], NULL, consumer, q)) die("pthread_create");
        if (pthread_create(&th[2 * i + 1], NULL, producer, q)) die("pthread_create");
    }
    uint64_t ops = 0, errors = 0;
    for (long i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
    bench_clock_stop();
    for (long i = 0; i < pairs; i++) {
        ops += qs[i].allocs + qs[i].frees;
        errors += qs[i].errors;
        free(qs[i].ring);
    }
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(ops);
    bench_end();
    return errors ? 3 : 0;
}
