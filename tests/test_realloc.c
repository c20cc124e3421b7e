/* realloc on every path of core/hakmem_ace_realloc.c (docs/REALLOC.md):
 *   slack       in place inside the block's class (same pointer under hakmem)
 *   class_up    Tiny/Mid growth to a bigger class (small steps and jumps)
 *   class_down  Tiny/Mid shrink to a smaller class
 *   mid_large   Mid -> Large
 *   large_grow  Large growth (mremap, no copy)
 *   large_shrink  Large shrink: a little (in place), a lot (tail released)
 *   large_mid   Large -> Mid
 *   fail        impossible sizes: NULL, ENOMEM, old block intact and usable
 *   null_zero   realloc(NULL, n) == malloc(n); realloc(p, 0) frees, returns NULL
 *   cross_thread  a block allocated in one thread is realloc'd (and freed) in another
 *   random      random sizes across all layers, content checked after each call
 *   copy        (hak_ API only) the non-temporal copy used for big moves
 * Content is position-based (t_fill_pos) so it survives a move.
 * Run as: test_realloc [name-substring]
 */
#include "common.h"
#include <pthread.h>
#include <stdint.h>

#ifdef HAK_API_MODE
/* internal, linkable from the static library */
void hak_realloc_copy(void *dst, const void *src, size_t n);
#endif

static void t_fill_pos_from(void *p, size_t from, size_t n, uint64_t tag)
{
    unsigned char *c = (unsigned char *)p;
    for (size_t i = from; i < n; i++) c[i] = (unsigned char)((i * 131u) ^ (i >> 8) ^ tag);
}

/* realloc p (holding `have` valid bytes with tag) to n; check the kept prefix */
static void *re(void *p, size_t have, size_t n, uint64_t tag, const char *what)
{
    void *q = T_REALLOC(p, n);
    CHECKF(q != NULL, "%s: realloc(%zu -> %zu) returned NULL", what, have, n);
    if (!q) { T_FREE(p); return NULL; }
    size_t keep = have < n ? have : n;
    size_t bad = t_check_pos(q, keep, tag);
    CHECKF(bad == (size_t)-1, "%s: realloc(%zu -> %zu) lost byte %zu", what, have, n, bad);
    CHECKF(T_USABLE(q) >= n, "%s: usable %zu < %zu", what, T_USABLE(q), n);
    if (n >= 16) CHECKF(((uintptr_t)q & 15) == 0, "%s: %p not 16-aligned", what, q);
    if (n > keep) /* the prefix already holds the pattern: write the new tail */
        t_fill_pos_from(q, keep, n, tag);
    return q;
}

static void test_slack(void)
{
    size_t sizes[][2] = { { 20, 30 }, { 100, 112 }, { 1000, 1024 }, { 1100, 1280 },
                          { 3000, 2600 }, { 40000, 40960 }, { 200000, 229376 }, { 262144, 140000 } };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t a = sizes[i][0], b = sizes[i][1];
        void *p = T_MALLOC(a);
        CHECK(p != NULL);
        if (!p) continue;
        t_fill_pos(p, a, 3);
        void *q = re(p, a, b, 3, "slack");
        if (t_hakmem_active())
            CHECKF(q == p, "slack: %zu -> %zu moved (%p -> %p)", a, b, p, q);
        T_FREE(q);
    }
}

static void test_class_up(void)
{
    /* small steps (string building) from 1 byte to past Mid */
    size_t n = 1;
    void *p = T_MALLOC(n);
    t_fill_pos(p, n, 5);
    while (n < 300000) {
        size_t m = n + 1 + n / 7;
        p = re(p, n, m, 5, "class_up.step");
        if (!p) return;
        n = m;
    }
    T_FREE(p);
    /* jumps: doubling and big leaps */
    size_t jumps[][2] = { { 8, 16 }, { 16, 1000 }, { 100, 5000 }, { 1024, 1025 }, { 2000, 250000 },
                          { 16, 262144 }, { 512, 1024 } };
    for (size_t i = 0; i < sizeof jumps / sizeof *jumps; i++) {
        p = T_MALLOC(jumps[i][0]);
        t_fill_pos(p, jumps[i][0], 6);
        p = re(p, jumps[i][0], jumps[i][1], 6, "class_up.jump");
        T_FREE(p);
    }
}

static void test_class_down(void)
{
    size_t n = 262144;
    void *p = T_MALLOC(n);
    t_fill_pos(p, n, 7);
    while (n > 1) {
        size_t m = n / 3;
        if (m < 1) m = 1;
        p = re(p, n, m, 7, "class_down");
        if (!p) return;
        n = m;
    }
    T_FREE(p);
}

static void test_mid_large(void)
{
    size_t pairs[][2] = { { 200000, 262145 }, { 262144, 1 << 20 }, { 5000, 64u << 20 }, { 100, 300000 } };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        void *p = T_MALLOC(pairs[i][0]);
        t_fill_pos(p, pairs[i][0], 9);
        p = re(p, pairs[i][0], pairs[i][1], 9, "mid_large");
        T_FREE(p);
    }
}

static void test_large_grow(void)
{
    size_t n = 300000;
    void *p = T_MALLOC(n);
    t_fill_pos(p, n, 11);
    /* doubling to 64 MiB, then small steps (headroom), then odd sizes */
    while (n < (64u << 20)) { p = re(p, n, n * 2, 11, "large_grow.double"); if (!p) return; n *= 2; }
    for (int i = 0; i < 10; i++) { p = re(p, n, n + 4097, 11, "large_grow.step"); if (!p) return; n += 4097; }
    p = re(p, n, n + 1, 11, "large_grow.byte");
    T_FREE(p);
    /* many large blocks growing alternately (mremap may move them) */
    enum { K = 8 };
    void *v[K];
    size_t len[K];
    for (int k = 0; k < K; k++) { len[k] = 300000 + k * 4096; v[k] = T_MALLOC(len[k]); t_fill_pos(v[k], len[k], 20 + k); }
    for (int r = 0; r < 6; r++)
        for (int k = 0; k < K; k++) {
            v[k] = re(v[k], len[k], len[k] + len[k] / 2 + 1, 20 + k, "large_grow.multi");
            if (!v[k]) return;
            len[k] += len[k] / 2 + 1;
        }
    for (int k = 0; k < K; k++) { CHECK(t_check_pos(v[k], len[k], 20 + k) == (size_t)-1); T_FREE(v[k]); }
}

static void test_large_shrink(void)
{
    size_t n = 8u << 20;
    void *p = T_MALLOC(n);
    t_fill_pos(p, n, 13);
    /* a little: in place without a system call */
    void *q = re(p, n, n - 100000, 13, "large_shrink.little");
    if (t_hakmem_active()) CHECKF(q == p, "shrinking by 1%% moved the block");
    n -= 100000;
    /* a lot: tail released in place */
    p = re(q, n, 1u << 20, 13, "large_shrink.lot");
    n = 1u << 20;
    if (t_hakmem_active()) {
        CHECKF(p == q, "mremap shrink moved the block");
        CHECKF(T_USABLE(p) < (2u << 20), "usable %zu after shrinking to 1 MiB", T_USABLE(p));
    }
    /* halving down to Mid and Tiny */
    while (n > 16) { p = re(p, n, n / 2, 13, "large_shrink.halve"); if (!p) return; n /= 2; }
    T_FREE(p);
}

static void test_large_mid(void)
{
    size_t pairs[][2] = { { 1 << 20, 100000 }, { 4u << 20, 262144 }, { 300000, 1000 }, { 16u << 20, 20 } };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        void *p = T_MALLOC(pairs[i][0]);
        t_fill_pos(p, pairs[i][0], 15);
        p = re(p, pairs[i][0], pairs[i][1], 15, "large_mid");
        /* and back up again */
        p = re(p, pairs[i][1], pairs[i][0], 15, "large_mid.back");
        T_FREE(p);
    }
}

static void test_fail(void)
{
    size_t sizes[] = { 24, 1000, 5000, 200000, 1u << 20 };
    size_t bad[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62, (size_t)1 << 48 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = T_MALLOC(sizes[i]);
        t_fill_pos(p, sizes[i], 17);
        for (size_t j = 0; j < sizeof bad / sizeof *bad; j++) {
            errno = 0;
            void *q = T_REALLOC(p, bad[j]);
            CHECKF(q == NULL, "realloc(%zu-byte block, %zu) succeeded", sizes[i], bad[j]);
            CHECKF(errno == ENOMEM, "realloc(%zu, %zu): errno %d, not ENOMEM", sizes[i], bad[j], errno);
            if (q) { T_FREE(q); p = NULL; break; }
            CHECKF(t_check_pos(p, sizes[i], 17) == (size_t)-1, "old block of %zu changed after failure", sizes[i]);
        }
        if (!p) continue;
        /* the old block is still a live, growable, freeable block */
        p = re(p, sizes[i], sizes[i] * 3, 17, "fail.after");
        T_FREE(p);
    }
    /* reallocarray overflow too */
    void *p = T_MALLOC(100);
    errno = 0;
    CHECK(T_REALLOCARRAY(p, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    T_FREE(p);
}

static void test_null_zero(void)
{
    size_t sizes[] = { 0, 1, 100, 5000, 300000, 4u << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = T_REALLOC(NULL, sizes[i]);
        CHECKF(p != NULL, "realloc(NULL, %zu) returned NULL", sizes[i]);
        if (!p) continue;
        CHECK(T_USABLE(p) >= sizes[i]);
        t_fill_pos(p, sizes[i], 19);
        CHECK(t_check_pos(p, sizes[i], 19) == (size_t)-1);
        if (sizes[i]) {
            errno = 0;
            void *q = T_REALLOC(p, 0);
            CHECKF(q == NULL, "realloc(p, 0) returned %p (glibc frees and returns NULL)", q);
            CHECK(errno == 0);
            if (q) T_FREE(q);
        } else {
            T_FREE(p);
        }
    }
    /* many frees through realloc(p, 0) leave the heap usable (no leak, no double use) */
    for (int i = 0; i < 100000; i++) {
        void *p = T_MALLOC((size_t)(i % 3000) + 1);
        *(volatile char *)p = 1;
        CHECK(T_REALLOC(p, 0) == NULL);
    }
}

/* ---- cross-thread ---- */
enum { XN = 2000 };
static void *xv[XN];
static size_t xlen[XN];

static void *xthread(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg * 7919 + 1;
    for (int i = 0; i < XN; i++) {
        size_t n = t_rand_size(&rs);
        if (arg == (void *)1) {          /* phase 1: allocate and fill */
            xv[i] = T_MALLOC(n);
            xlen[i] = n;
            t_fill_pos(xv[i], n, (uint64_t)i);
        } else {                          /* phase 2/3: realloc another thread's blocks */
            xv[i] = re(xv[i], xlen[i], n, (uint64_t)i, "cross_thread");
            if (!xv[i]) return NULL;
            xlen[i] = n;
        }
    }
    return NULL;
}

static void test_cross_thread(void)
{
    for (uintptr_t phase = 1; phase <= 3; phase++) {
        pthread_t t;
        pthread_create(&t, NULL, xthread, (void *)phase);
        pthread_join(t, NULL);
    }
    /* the last thread has exited: its heap was handed back; realloc and free here */
    for (int i = 0; i < XN; i++) {
        if (!xv[i]) continue;
        xv[i] = re(xv[i], xlen[i], xlen[i] / 2 + 1, (uint64_t)i, "cross_thread.main");
        T_FREE(xv[i]);
    }
    /* concurrently: two threads realloc blocks the main thread allocated */
    for (int i = 0; i < XN; i++) { xlen[i] = (size_t)(i * 37 % 5000) + 1; xv[i] = T_MALLOC(xlen[i]); t_fill_pos(xv[i], xlen[i], (uint64_t)i); }
    pthread_t a, b;
    pthread_create(&a, NULL, xthread, (void *)2);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, xthread, (void *)3);
    pthread_join(b, NULL);
    for (int i = 0; i < XN; i++) if (xv[i]) { CHECK(t_check_pos(xv[i], xlen[i], (uint64_t)i) == (size_t)-1); T_FREE(xv[i]); }
}

static void test_random(void)
{
    enum { N = 256 };
    void *v[N] = { 0 };
    size_t len[N] = { 0 };
    uint64_t rs = 12345;
    long iters = t_env_long("HAKTEST_REALLOC_ITERS", 200000);
    for (long it = 0; it < iters; it++) {
        int i = (int)(t_rand(&rs) % N);
        uint64_t r = t_rand(&rs);
        size_t n;
        switch (r % 8) {
        case 0: n = t_rand_size(&rs); break;
        case 1: case 2: n = len[i] + 1 + (r >> 8) % 64; break;          /* append */
        case 3: n = len[i] / 2 + 1; break;                              /* halve */
        case 4: n = len[i] * 2 + 1; break;                              /* double */
        case 5: n = len[i] ? len[i] - (r >> 8) % (len[i] / 4 + 1) : 1; break;  /* trim */
        default: n = (r >> 8) % 2000 + 1; break;
        }
        if (n > (32u << 20)) n = (r >> 8) % 100000 + 1;
        if (!n) n = 1;
        v[i] = v[i] ? re(v[i], len[i], n, (uint64_t)i, "random") : T_REALLOC(NULL, n);
        if (!v[i]) return;
        if (!len[i]) t_fill_pos(v[i], n, (uint64_t)i);
        len[i] = n;
    }
    for (int i = 0; i < N; i++) { CHECK(t_check_pos(v[i], len[i], (uint64_t)i) == (size_t)-1); T_FREE(v[i]); }
}

static void test_copy(void)
{
#ifdef HAK_API_MODE
    /* sizes around the non-temporal threshold, every destination misalignment
     * a block can have (16) plus odd ones, tails that are not a vector */
    size_t sizes[] = { 0, 1, 15, 4096, (4u << 20) - 1, 4u << 20, (4u << 20) + 1, (4u << 20) + 127, 9u << 20 };
    size_t max = (9u << 20) + 256;
    unsigned char *s = T_MALLOC(max), *d = T_MALLOC(max);
    for (size_t i = 0; i < max; i++) s[i] = (unsigned char)(i * 7 + (i >> 9));
    size_t offs[] = { 0, 1, 16, 31, 48 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t o = 0; o < sizeof offs / sizeof *offs; o++) {
            memset(d, 0xAA, max);
            hak_realloc_copy(d + offs[o], s + 3, sizes[i]);
            CHECKF(memcmp(d + offs[o], s + 3, sizes[i]) == 0, "copy of %zu at offset %zu differs", sizes[i], offs[o]);
            CHECKF(offs[o] == 0 || d[offs[o] - 1] == 0xAA, "copy wrote before its destination");
            CHECKF(d[offs[o] + sizes[i]] == 0xAA, "copy of %zu wrote past its end", sizes[i]);
        }
    T_FREE(s);
    T_FREE(d);
#else
    fprintf(stderr, "  (copy: hak_ API build only)\n");
#endif
}

static const struct test tests[] = {
    { "slack", test_slack },
    { "class_up", test_class_up },
    { "class_down", test_class_down },
    { "mid_large", test_mid_large },
    { "large_grow", test_large_grow },
    { "large_shrink", test_large_shrink },
    { "large_mid", test_large_mid },
    { "fail", test_fail },
    { "null_zero", test_null_zero },
    { "cross_thread", test_cross_thread },
    { "random", test_random },
    { "copy", test_copy },
};

int main(int argc, char **argv)
{
    return t_run("test_realloc", tests, sizeof tests / sizeof *tests, argc, argv);
}
