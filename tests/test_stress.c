/* Multi-threaded stress with whole-block content verification.
 *
 * Every block carries a 32-byte header {size, alignment, kind, magic} and a
 * pattern derived from its address and size over the rest of the block; it
 * is verified in full before every free and realloc, by whichever thread
 * happens to hold it.  Subtests (argv[1]):
 *   prodcons  producer threads allocate, consumer threads verify and free
 *             (cross-thread frees through the remote queues)
 *   exchange  16 threads swap blocks through a shared slot array and free,
 *             realloc (grow/shrink across layers) or pass on what they get
 *             (cross-thread free and cross-thread realloc)
 *   aligned   the same with every allocation API: posix_memalign,
 *             aligned_alloc, memalign, valloc, pvalloc, calloc, realloc,
 *             and free_sized / free_aligned_sized where available
 *   churn     100000 short-lived threads (4 at a time); each allocates, frees,
 *             and leaves blocks for later threads to free; VmRSS at the end
 *             must not have grown unboundedly from the value after 2000 threads
 *   fork      threads allocate while the main thread forks; each child
 *             verifies and frees the blocks it inherited, allocates, exits 0
 * HAKTEST_SCALE=percent scales the amount of work (sanitizer runs use less).
 */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define HDR 32
#define MAGIC 0x5AFEB10CC0FFEE00ull
enum { K_MALLOC, K_CALLOC, K_REALLOC, K_POSIX, K_ALIGNED, K_MEMALIGN, K_VALLOC, K_PVALLOC, K_NKINDS };
typedef struct { uint64_t size, align, kind, magic; } hdr_t;

static long scale = 100;
static size_t pagesz;
static atomic_long errors;
static atomic_long total_ops;

#define SERR(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); atomic_fetch_add(&errors, 1); } while (0)

static long scaled(long n) { long v = n * scale / 100; return v > 0 ? v : 1; }

static void stamp(void *p, size_t n, size_t align, int kind)
{
    hdr_t h = { n, align, (uint64_t)kind, MAGIC ^ (uintptr_t)p };
    memcpy(p, &h, sizeof h);
    t_fill((char *)p + HDR, n - HDR, 0);
}

/* verify a whole block; returns its size (0 when broken) */
static size_t verify(void *p, const char *where)
{
    hdr_t h;
    memcpy(&h, p, sizeof h);
    if (h.magic != (MAGIC ^ (uintptr_t)p)) { SERR("%s: block %p header corrupted (magic %#llx)", where, p, (unsigned long long)h.magic); return 0; }
    size_t bad = t_check((char *)p + HDR, h.size - HDR, 0);
    if (bad != (size_t)-1) { SERR("%s: block %p size %llu corrupted at offset %zu", where, p, (unsigned long long)h.size, bad + HDR); return 0; }
    if (h.align > 1 && ((uintptr_t)p & (h.align - 1))) SERR("%s: block %p lost its alignment %llu", where, p, (unsigned long long)h.align);
    size_t u = T_USABLE(p);
    if (u < h.size) SERR("%s: block %p usable %zu < size %llu", where, p, u, (unsigned long long)h.size);
    return h.size;
}

static void release(void *p, uint64_t *rs)
{
    hdr_t h;
    memcpy(&h, p, sizeof h);
    if (!verify(p, "free")) return;   /* leak broken blocks rather than crash */
    memset(p, 0xDD, HDR);             /* a stale copy must not pass verify */
    if (T_HAVE_FREE_SIZED && (t_rand(rs) & 3) == 0) {
        if (h.kind == K_ALIGNED && h.size % h.align == 0) T_FREE_ALIGNED_SIZED(p, h.align, h.size);
        else if (h.kind == K_MALLOC || h.kind == K_CALLOC || h.kind == K_REALLOC) T_FREE_SIZED(p, h.size);
        else T_FREE(p);
    } else
        T_FREE(p);
}

static size_t stress_size(uint64_t *rs, size_t maxsz)
{
    size_t n;
    do n = t_rand_size(rs); while (n > maxsz);
    return n < HDR ? HDR + (n & 15) : n;
}

static void *make_block(uint64_t *rs, int kinds, size_t maxsz)
{
    size_t n = stress_size(rs, maxsz);
    int kind = kinds == 1 ? K_MALLOC : (int)(t_rand(rs) % K_NKINDS);
    size_t align = 1;
    void *p = NULL;
    switch (kind) {
    case K_MALLOC: p = T_MALLOC(n); break;
    case K_CALLOC: {
        p = T_CALLOC(1, n);
        if (p) for (size_t i = 0; i < n; i += (i < 4096 ? 1 : 61))
            if (((unsigned char *)p)[i]) { SERR("calloc(%zu) = %p not zeroed at %zu", n, p, i); break; }
        break; }
    case K_REALLOC: {
        p = T_REALLOC(NULL, n / 2 + 1);
        if (p) p = T_REALLOC(p, n);
        break; }
    case K_POSIX: {
        align = (size_t)8 << (t_rand(rs) % 14);   /* 8 .. 64 KiB */
        int r = T_POSIX_MEMALIGN(&p, align, n);
        if (r) { SERR("posix_memalign(%zu,%zu) = %d", align, n, r); p = NULL; }
        break; }
    case K_ALIGNED:
        align = (size_t)16 << (t_rand(rs) % 13);
        if (t_rand(rs) & 1) n = (n + align - 1) / align * align;
        p = T_ALIGNED_ALLOC(align, n);
        break;
    case K_MEMALIGN:
        align = (size_t)1 << (t_rand(rs) % 17);
        p = T_MEMALIGN(align, n);
        break;
    case K_VALLOC: align = pagesz; p = T_VALLOC(n); break;
    case K_PVALLOC: align = pagesz; n = (n + pagesz - 1) & ~(pagesz - 1); p = T_PVALLOC(n); break;
    }
    if (!p) { SERR("allocation kind %d size %zu align %zu failed", kind, n, align); return NULL; }
    if (align > 1 && ((uintptr_t)p & (align - 1))) SERR("kind %d size %zu: %p not aligned to %zu", kind, n, p, align);
    if (n >= 16 && ((uintptr_t)p & 15)) SERR("%p (size %zu) not 16-byte aligned", p, n);
    if (T_USABLE(p) < n) SERR("%p: usable %zu < %zu", p, T_USABLE(p), n);
    stamp(p, n, align, kind);
    return p;
}

/* realloc a block held by this thread (maybe allocated by another) */
static void *regrow(void *p, uint64_t *rs, size_t maxsz)
{
    hdr_t h;
    memcpy(&h, p, sizeof h);
    if (!verify(p, "realloc")) return NULL;
    size_t m = stress_size(rs, maxsz);
    void *q = T_REALLOC(p, m);
    if (!q) { SERR("realloc(%p, %zu) failed", p, m); return NULL; }
    size_t keep = (h.size < m ? h.size : m) - HDR;
    /* the kept bytes still hold the old pattern, seeded by the old address */
    hdr_t h2;
    memcpy(&h2, q, sizeof h2);
    if (h2.size != h.size || h2.magic != h.magic) SERR("realloc %p->%p (%llu->%zu) lost the header", p, q, (unsigned long long)h.size, m);
    uint64_t s = t_seed((char *)p + HDR, h.size - HDR, 0);
    const unsigned char *c = (const unsigned char *)q + HDR;
    for (size_t i = 0; i + 8 <= keep; i += 8) {
        uint64_t v = s + i * 0x100000001B3ull, w;
        memcpy(&w, c + i, 8);
        if (v != w) { SERR("realloc %p->%p (%llu->%zu) lost content at %zu", p, q, (unsigned long long)h.size, m, i + HDR); break; }
    }
    if ((uintptr_t)q & 15) SERR("realloc result %p misaligned", q);
    stamp(q, m, 1, K_REALLOC);
    return q;
}

/* ---------------- exchange / aligned ---------------- */
#define NSLOTS 4096
static _Atomic(void *) slots[NSLOTS];

struct xarg { int id, kinds; long iters; size_t maxsz; };

static void *exchange_thread(void *a)
{
    struct xarg *x = a;
    uint64_t rs = 0x9E3779B97F4A7C15ull * (uint64_t)(x->id + 1);
    void *held[8] = { 0 };
    for (long it = 0; it < x->iters; it++) {
        void *p = make_block(&rs, x->kinds, x->maxsz);
        if (!p) continue;
        void *old = atomic_exchange(&slots[t_rand(&rs) % NSLOTS], p);
        if (!old) continue;
        unsigned r = (unsigned)(t_rand(&rs) % 8);
        if (r < 4) release(old, &rs);
        else if (r < 6) {                 /* cross-thread realloc, then publish again */
            void *q = regrow(old, &rs, x->maxsz);
            if (q) { q = atomic_exchange(&slots[t_rand(&rs) % NSLOTS], q); if (q) release(q, &rs); }
        } else {                          /* hold for a while, free later */
            int k = (int)(t_rand(&rs) % 8);
            if (held[k]) release(held[k], &rs);
            held[k] = old;
        }
    }
    for (int k = 0; k < 8; k++) if (held[k]) release(held[k], &rs);
    atomic_fetch_add(&total_ops, x->iters);
    return NULL;
}

static void drain_slots(void)
{
    uint64_t rs = 12345;
    for (int i = 0; i < NSLOTS; i++) {
        void *p = atomic_exchange(&slots[i], NULL);
        if (p) release(p, &rs);
    }
}

static int run_exchange(int kinds, int nthreads, long iters)
{
    pthread_t th[64];
    struct xarg xa[64];
    for (int i = 0; i < nthreads; i++) {
        xa[i] = (struct xarg){ i, kinds, scaled(iters), 2u << 20 };
        if (pthread_create(&th[i], NULL, exchange_thread, &xa[i])) DIE("pthread_create");
    }
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    drain_slots();
    return 0;
}

/* ---------------- producer / consumer ---------------- */
#define QCAP 1024
struct queue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    void *buf[QCAP];
    int head, count, done;
};

struct pcarg { struct queue *q; int id; long n; size_t maxsz; };

static void *producer(void *a)
{
    struct pcarg *pa = a;
    uint64_t rs = 0xDEADBEEFull * (uint64_t)(pa->id + 7);
    void *batch[64];
    for (long i = 0; i < pa->n; i += 64) {
        for (int k = 0; k < 64; k++) batch[k] = make_block(&rs, 1, pa->maxsz);
        pthread_mutex_lock(&pa->q->mu);
        for (int k = 0; k < 64; k++) {
            while (pa->q->count == QCAP) pthread_cond_wait(&pa->q->nonfull, &pa->q->mu);
            pa->q->buf[(pa->q->head + pa->q->count++) % QCAP] = batch[k];
        }
        pthread_cond_broadcast(&pa->q->nonempty);
        pthread_mutex_unlock(&pa->q->mu);
    }
    return NULL;
}

static void *consumer(void *a)
{
    struct pcarg *pa = a;
    uint64_t rs = 0xFEEDull * (uint64_t)(pa->id + 3);
    void *batch[64];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&pa->q->mu);
        while (pa->q->count == 0 && !pa->q->done) pthread_cond_wait(&pa->q->nonempty, &pa->q->mu);
        while (pa->q->count && n < 64) { batch[n++] = pa->q->buf[pa->q->head]; pa->q->head = (pa->q->head + 1) % QCAP; pa->q->count--; }
        int fin = pa->q->done && n == 0;
        pthread_cond_broadcast(&pa->q->nonfull);
        pthread_mutex_unlock(&pa->q->mu);
        if (fin) break;
        for (int k = 0; k < n; k++) if (batch[k]) release(batch[k], &rs);
        atomic_fetch_add(&total_ops, n);
    }
    return NULL;
}

static int run_prodcons(void)
{
    enum { PAIRS = 3 };
    static struct queue q[PAIRS];
    pthread_t pt[PAIRS], ct[PAIRS];
    struct pcarg pa[PAIRS], ca[PAIRS];
    for (int round = 0; round < 2; round++) {
        /* round 0: tiny + mid blocks; round 1: tiny only (remote queues) */
        size_t maxsz = round == 0 ? (256u << 10) : 1024;
        for (int i = 0; i < PAIRS; i++) {
            memset(&q[i], 0, sizeof q[i]);
            pthread_mutex_init(&q[i].mu, NULL);
            pthread_cond_init(&q[i].nonempty, NULL);
            pthread_cond_init(&q[i].nonfull, NULL);
            pa[i] = (struct pcarg){ &q[i], i, scaled(300000), maxsz };
            ca[i] = pa[i];
            pthread_create(&pt[i], NULL, producer, &pa[i]);
            pthread_create(&ct[i], NULL, consumer, &ca[i]);
        }
        for (int i = 0; i < PAIRS; i++) pthread_join(pt[i], NULL);
        for (int i = 0; i < PAIRS; i++) {
            pthread_mutex_lock(&q[i].mu);
            q[i].done = 1;
            pthread_cond_broadcast(&q[i].nonempty);
            pthread_mutex_unlock(&q[i].mu);
        }
        for (int i = 0; i < PAIRS; i++) pthread_join(ct[i], NULL);
    }
    return 0;
}

/* ---------------- thread churn ---------------- */
#define CHURN_SLOTS 1024
static _Atomic(void *) churn_slots[CHURN_SLOTS];
static atomic_long churn_id;

static void *churn_thread(void *a)
{
    (void)a;
    long id = atomic_fetch_add(&churn_id, 1);
    uint64_t rs = 0x2545F4914F6CDD1Dull * (uint64_t)(id + 1);
    void *v[48];
    for (int i = 0; i < 48; i++) v[i] = make_block(&rs, 1, 16384);
    for (int i = 0; i < 48; i++) {
        if (!v[i]) continue;
        if (i < 4) {   /* leave a few for other (later) threads to free */
            void *old = atomic_exchange(&churn_slots[t_rand(&rs) % CHURN_SLOTS], v[i]);
            if (old) release(old, &rs);
        } else
            release(v[i], &rs);
    }
    return NULL;
}

static int run_churn(void)
{
    long total = scaled(100000), first = total / 10;
    long rss_first = -1;
    for (long done = 0; done < total; ) {
        pthread_t th[4];
        int n = 0;
        for (; n < 4 && done + n < total; n++)
            if (pthread_create(&th[n], NULL, churn_thread, NULL)) DIE("pthread_create failed after %ld threads", done + n);
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
        done += n;
        if (rss_first < 0 && done >= first) rss_first = t_rss_kb();
    }
    long rss_end = t_rss_kb();
    uint64_t rs = 1;
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHURN_SLACK_KB (64 * 1024)   /* TSan keeps ~5 KiB per finished thread: 22-27 MiB over 4500 here */
#endif
#endif
#ifndef CHURN_SLACK_KB
#define CHURN_SLACK_KB (24 * 1024)
#endif
    for (int i = 0; i < CHURN_SLOTS; i++) { void *p = atomic_exchange(&churn_slots[i], NULL); if (p) release(p, &rs); }
    fprintf(stderr, "churn: %ld threads, VmRSS %ld kB after %ld, %ld kB at the end\n", total, rss_first, first, rss_end);
    if (rss_end > rss_first + CHURN_SLACK_KB && rss_end > rss_first * 3 / 2)
        SERR("churn: RSS grew from %ld kB to %ld kB (threads' memory not reused)", rss_first, rss_end);
    return 0;
}

/* ---------------- fork while threads allocate ---------------- */
static atomic_int fork_stop;

static void *fork_worker(void *a)
{
    struct xarg *x = a;
    uint64_t rs = 0xABCDEFull * (uint64_t)(x->id + 1);
    while (!atomic_load(&fork_stop)) {
        for (int i = 0; i < 200; i++) {
            void *p = make_block(&rs, x->kinds, 300000);
            if (!p) continue;
            void *old = atomic_exchange(&slots[t_rand(&rs) % NSLOTS], p);
            if (old) {
                if (t_rand(&rs) & 1) release(old, &rs);
                else { void *q = regrow(old, &rs, 300000); if (q) release(q, &rs); }
            }
        }
    }
    return NULL;
}

static int child_work(void)
{
    alarm(30);   /* a deadlock in the child shows as SIGALRM */
    uint64_t rs = (uint64_t)getpid() * 2654435761u;
    /* blocks published in the slots are complete: verify and free them all */
    for (int i = 0; i < NSLOTS; i++) {
        void *p = atomic_load(&slots[i]);
        if (p && (t_rand(&rs) & 1)) { release(p, &rs); atomic_store(&slots[i], NULL); }
    }
    void *v[256] = { 0 };
    for (int i = 0; i < 5000; i++) {
        int k = (int)(t_rand(&rs) % 256);
        if (v[k]) release(v[k], &rs);
        v[k] = make_block(&rs, K_NKINDS, 1u << 20);
    }
    for (int k = 0; k < 256; k++) if (v[k]) release(v[k], &rs);
    /* a thread in the child works too */
    pthread_t t;
    struct xarg xa = { 99, 1, 2000, 65536 };
    if (pthread_create(&t, NULL, exchange_thread, &xa)) return 3;
    pthread_join(t, NULL);
    return atomic_load(&errors) ? 1 : 0;
}

static int run_fork(void)
{
    enum { NT = 3 };
    pthread_t th[NT];
    struct xarg xa[NT];
    for (int i = 0; i < NT; i++) {
        xa[i] = (struct xarg){ i, K_NKINDS, 0, 0 };
        pthread_create(&th[i], NULL, fork_worker, &xa[i]);
    }
    long nforks = scaled(60);
    for (long f = 0; f < nforks; f++) {
        usleep(2000 + (useconds_t)(f % 7) * 1000);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) { SERR("fork failed: %s", strerror(errno)); break; }
        if (pid == 0) exit(child_work());
        int st;
        if (waitpid(pid, &st, 0) != pid) { SERR("waitpid failed"); continue; }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (WIFSIGNALED(st)) SERR("fork child %ld killed by signal %d (%s)", f, WTERMSIG(st), strsignal(WTERMSIG(st)));
            else SERR("fork child %ld exited with %d", f, WEXITSTATUS(st));
        }
    }
    atomic_store(&fork_stop, 1);
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    drain_slots();
    return 0;
}

int main(int argc, char **argv)
{
    t_require_hakmem();
    scale = t_env_long("HAKTEST_SCALE", 100);
    pagesz = (size_t)sysconf(_SC_PAGESIZE);
    const char *which = argc > 1 ? argv[1] : "all";
    int all = !strcmp(which, "all"), ran = 0;
    if (all || !strcmp(which, "prodcons")) { run_prodcons(); ran++; }
    if (all || !strcmp(which, "exchange")) { run_exchange(1, 16, 60000); ran++; }
    if (all || !strcmp(which, "aligned")) { run_exchange(K_NKINDS, 8, 40000); ran++; }
    if (all || !strcmp(which, "churn")) { run_churn(); ran++; }
    if (all || !strcmp(which, "fork")) { run_fork(); ran++; }
    if (!ran) { fprintf(stderr, "unknown subtest %s\n", which); return 2; }
    long e = atomic_load(&errors);
    fprintf(stderr, "test_stress %s (%s): %ld ops, %s\n", which, T_MODE_NAME, atomic_load(&total_ops), e ? "FAILED" : "ok");
    return e ? 1 : 0;
}
