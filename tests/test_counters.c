/* Each allocator counter is provoked and shown non-zero through hak_get_stats().
 *   lock_waits    8 threads hammer mid sizes (1-32 KiB) with cross-thread
 *                 frees; run with HAKMEM_TLS_CAP=4 HAKMEM_BUNDLE_WIDTH=16 so
 *                 every few operations go to the central lists
 *   remote        producer/consumer of tiny blocks: remote_frees and drains
 *                 (run with HAKMEM_DRAIN_THRESHOLD=32)
 *   release       ~200 MB of mixed tiny/mid, free 90 % (whole runs in
 *                 allocation order), then pages_released > 0, bytes_held
 *                 dropped, VmRSS dropped
 *   adopt         threads allocate tiny blocks and exit leaving some live;
 *                 other threads free those and allocate the same classes:
 *                 spans_adopted > 0
 * In plain mode (LD_PRELOAD) hak_get_stats is looked up with dlsym.
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>

static void print_stats(const char *when, const hak_public_stats_t *s)
{
    fprintf(stderr, "%s: allocs=%llu frees=%llu refills=%llu flushes=%llu remote_frees=%llu drains=%llu "
            "lock_waits=%llu lock_wait_ns=%llu pages_released=%llu spans_adopted=%llu bytes_held=%llu bytes_live=%llu\n",
            when, s->allocs, s->frees, s->refills, s->flushes, s->remote_frees, s->drains, s->lock_waits,
            s->lock_wait_ns, s->pages_released, s->spans_adopted, s->bytes_held, s->bytes_live);
}

static int get(hak_public_stats_t *s)
{
    if (!t_get_stats(s)) { fprintf(stderr, "FAIL: hak_get_stats not found (hakmem not loaded?)\n"); exit(2); }
    return 1;
}

/* ---- lock_waits ---- */
#define LW_SLOTS 512
static _Atomic(void *) lw_slots[LW_SLOTS];
static void *lock_thread(void *a)
{
    uint64_t rs = 0x1234567ull * ((uintptr_t)a + 1);
    void *mine[64] = { 0 };
    for (long i = 0; i < 300000; i++) {
        size_t n = 1024 + t_rand(&rs) % (31 * 1024);
        int k = (int)(i & 63);
        if (mine[k]) T_FREE(mine[k]);
        mine[k] = T_MALLOC(n);
        if (!mine[k]) { fprintf(stderr, "malloc failed\n"); exit(1); }
        *(volatile char *)mine[k] = 1;
        if ((i & 7) == 0) {
            void *p = T_MALLOC(n);
            *(volatile char *)p = 2;
            void *old = atomic_exchange(&lw_slots[t_rand(&rs) % LW_SLOTS], p);
            if (old) T_FREE(old);
        }
    }
    for (int k = 0; k < 64; k++) T_FREE(mine[k]);
    return NULL;
}

static int test_lock_waits(void)
{
    hak_public_stats_t a, b;
    get(&a);
    pthread_t th[8];
    for (uintptr_t i = 0; i < 8; i++) pthread_create(&th[i], NULL, lock_thread, (void *)i);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < LW_SLOTS; i++) T_FREE(atomic_exchange(&lw_slots[i], NULL));
    get(&b);
    print_stats("lock_waits", &b);
    int ok = b.lock_waits > a.lock_waits && b.lock_wait_ns > a.lock_wait_ns && b.refills > a.refills && b.flushes > a.flushes;
    if (!ok) fprintf(stderr, "FAIL: lock_waits %llu, lock_wait_ns %llu, refills %llu, flushes %llu (want all > 0)\n",
                     b.lock_waits - a.lock_waits, b.lock_wait_ns - a.lock_wait_ns, b.refills - a.refills, b.flushes - a.flushes);
    return ok;
}

/* ---- remote frees / drains ---- */
#define RQ 4096
static _Atomic(void *) rq[RQ];
static atomic_int r_done;
static void *r_producer(void *a)
{
    (void)a;
    uint64_t rs = 99;
    for (long i = 0; i < 2000000; i++) {
        size_t n = 16 + t_rand(&rs) % 240;
        void *p = T_MALLOC(n);
        memset(p, 0x5A, n);
        long k = i % RQ;
        void *expect = NULL;
        /* spin until the slot is free (the consumer empties it) */
        while (!atomic_compare_exchange_weak(&rq[k], &expect, p)) { expect = NULL; sched_yield(); }
    }
    atomic_store(&r_done, 1);
    return NULL;
}
static void *r_consumer(void *a)
{
    (void)a;
    long k = 0;
    for (;;) {
        void *p = atomic_exchange(&rq[k], NULL);
        if (p) { T_FREE(p); k = (k + 1) % RQ; continue; }
        if (atomic_load(&r_done)) {
            int left = 0;
            for (int i = 0; i < RQ; i++) { void *q = atomic_exchange(&rq[i], NULL); if (q) { T_FREE(q); left++; } }
            if (!left) break;
        } else sched_yield();
    }
    return NULL;
}
static int test_remote(void)
{
    hak_public_stats_t a, b;
    get(&a);
    pthread_t p, c;
    pthread_create(&p, NULL, r_producer, NULL);
    pthread_create(&c, NULL, r_consumer, NULL);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    get(&b);
    print_stats("remote", &b);
    int ok = b.remote_frees > a.remote_frees && b.drains > a.drains;
    if (!ok) fprintf(stderr, "FAIL: remote_frees %llu drains %llu (want both > 0)\n", b.remote_frees - a.remote_frees, b.drains - a.drains);
    return ok;
}

/* ---- pages released ---- */
static int test_release(void)
{
    enum { N = 600000 };
    static void *v[N];
    uint64_t rs = 7;
    size_t total = 0;
    int n = 0;
    long rss0 = t_rss_kb();
    while (total < (200u << 20) && n < N) {
        size_t sz = (t_rand(&rs) % 4) ? 16 + t_rand(&rs) % 1000 : 1025 + t_rand(&rs) % (64 * 1024);
        v[n] = T_MALLOC(sz);
        if (!v[n]) { fprintf(stderr, "malloc failed\n"); return 0; }
        memset(v[n], 0x77, sz);
        total += sz;
        n++;
    }
    hak_public_stats_t a, b, c;
    get(&a);
    long rss1 = t_rss_kb();
    print_stats("release, all live", &a);
    int keep_from = n - n / 10;
    for (int i = 0; i < keep_from; i++) T_FREE(v[i]);
    /* a few more operations so thread caches flush their slow paths */
    for (int i = 0; i < 1000; i++) T_FREE(T_MALLOC(64 + i));
    get(&b);
    long rss2 = t_rss_kb();
    print_stats("release, 90% freed", &b);
    size_t rel = t_release_free_memory();
    get(&c);
    long rss3 = t_rss_kb();
    print_stats("release, after hak_release_free_memory", &c);
    fprintf(stderr, "release: %d blocks, %zu MB; VmRSS %ld -> %ld -> %ld -> %ld kB; hak_release_free_memory() = %zu pages\n",
            n, total >> 20, rss0, rss1, rss2, rss3, rel);
    int ok = 1;
    if (b.pages_released <= a.pages_released) { fprintf(stderr, "FAIL: no pages released on the free path (pages_released %llu)\n", b.pages_released); ok = 0; }
    if (!(b.bytes_held < a.bytes_held / 2)) { fprintf(stderr, "FAIL: bytes_held %llu -> %llu after freeing 90%%\n", a.bytes_held, b.bytes_held); ok = 0; }
    if (!(b.bytes_live < a.bytes_live / 5)) { fprintf(stderr, "FAIL: bytes_live %llu -> %llu after freeing 90%%\n", a.bytes_live, b.bytes_live); ok = 0; }
    if (!(rss2 < rss1 - (rss1 - rss0) / 2)) { fprintf(stderr, "FAIL: VmRSS %ld -> %ld kB after freeing 90%%\n", rss1, rss2); ok = 0; }
    if (!(c.bytes_held <= b.bytes_held)) { fprintf(stderr, "FAIL: bytes_held grew after hak_release_free_memory\n"); ok = 0; }
    for (int i = keep_from; i < n; i++) T_FREE(v[i]);
    return ok;
}

/* ---- spans adopted ---- */
#define AD_N 20000
static void *ad_blocks[8][AD_N];
static void *ad_alloc_exit(void *a)
{
    uintptr_t id = (uintptr_t)a;
    void *tmp[AD_N];
    for (int i = 0; i < AD_N; i++) {
        size_t sz = 16 + (size_t)(i % 8) * 16;
        tmp[i] = T_MALLOC(sz);
        ad_blocks[id][i] = T_MALLOC(sz);
        memset(ad_blocks[id][i], (int)id, sz);
    }
    for (int i = 0; i < AD_N; i++) T_FREE(tmp[i]);
    return NULL;   /* exits with ad_blocks[id][] live */
}
static void *ad_free_alloc(void *a)
{
    uintptr_t id = (uintptr_t)a;
    void *v[AD_N];
    for (int i = 0; i < AD_N; i++) {
        if (i % 2) { T_FREE(ad_blocks[id][i]); ad_blocks[id][i] = NULL; }
    }
    for (int i = 0; i < AD_N; i++) v[i] = T_MALLOC(16 + (size_t)(i % 8) * 16);
    for (int i = 0; i < AD_N; i++) T_FREE(v[i]);
    return NULL;
}
static int test_adopt(void)
{
    hak_public_stats_t a, b;
    get(&a);
    for (uintptr_t r = 0; r < 8; r++) {
        pthread_t t;
        pthread_create(&t, NULL, ad_alloc_exit, (void *)r);
        pthread_join(t, NULL);
    }
    for (uintptr_t r = 0; r < 8; r++) {
        pthread_t t;
        pthread_create(&t, NULL, ad_free_alloc, (void *)r);
        pthread_join(t, NULL);
    }
    /* the main thread (alive throughout) also frees and allocates */
    for (int r = 0; r < 8; r++)
        for (int i = 0; i < AD_N; i++) if (ad_blocks[r][i]) { T_FREE(ad_blocks[r][i]); ad_blocks[r][i] = NULL; }
    for (int i = 0; i < AD_N; i++) T_FREE(T_MALLOC(16 + (size_t)(i % 8) * 16));
    get(&b);
    print_stats("adopt", &b);
    int ok = b.spans_adopted > a.spans_adopted;
    if (!ok) fprintf(stderr, "FAIL: spans_adopted stayed %llu\n", b.spans_adopted);
    return ok;
}

int main(int argc, char **argv)
{
    t_require_hakmem();
    const char *w = argc > 1 ? argv[1] : "";
    int ok;
    if (!strcmp(w, "lock_waits")) ok = test_lock_waits();
    else if (!strcmp(w, "remote")) ok = test_remote();
    else if (!strcmp(w, "release")) ok = test_release();
    else if (!strcmp(w, "adopt")) ok = test_adopt();
    else { fprintf(stderr, "usage: %s lock_waits|remote|release|adopt\n", argv[0]); return 2; }
    fprintf(stderr, "test_counters %s (%s): %s\n", w, T_MODE_NAME, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
