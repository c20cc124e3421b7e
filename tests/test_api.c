/* Unit tests for every allocation entry point and every error case.
 * Expected behaviour is glibc 2.36's (verified on Debian 12):
 *   - malloc(0) returns a unique, freeable, non-NULL pointer
 *   - realloc(p, 0) frees p and returns NULL; realloc(NULL, 0) == malloc(0)
 *   - impossible sizes: NULL with errno = ENOMEM (also calloc/reallocarray overflow)
 *   - posix_memalign: returns EINVAL (does not rely on errno) when the alignment
 *     is not a power of two or is < sizeof(void *); ENOMEM for huge sizes
 *   - aligned_alloc and memalign (same code in glibc 2.36): any alignment is
 *     accepted; one below 16 gives a malloc'ed block, one that is not a power of
 *     two is rounded up to the next power of two; an alignment above
 *     SIZE_MAX/2+1 fails with EINVAL; a huge power-of-two alignment or size
 *     fails with ENOMEM
 *   - valloc/pvalloc: page aligned; pvalloc rounds the size up to a page
 *   - malloc_usable_size(NULL) == 0; free(NULL) is a no-op
 *   - free() does not change errno (glibc >= 2.33)
 * Run as: test_api [name-substring]
 */
#include "common.h"
#include <stdbool.h>

static size_t page;

#define ALIGNED(p, a) ((((uintptr_t)(p)) & ((uintptr_t)(a) - 1)) == 0)

static void check_block(void *p, size_t n, const char *what)
{
    CHECKF(p != NULL, "%s(%zu) returned NULL", what, n);
    if (!p) return;
    size_t u = T_USABLE(p);
    CHECKF(u >= n, "%s(%zu): usable %zu < request", what, n, u);
    if (n >= 16) CHECKF(ALIGNED(p, 16), "%s(%zu) = %p not 16-byte aligned", what, n, p);
    else if (n >= 8) CHECKF(ALIGNED(p, 8), "%s(%zu) = %p not 8-byte aligned", what, n, p);
}

static void test_malloc_basic(void)
{
    for (size_t n = 1; n <= 4096; n++) {
        void *p = T_MALLOC(n);
        check_block(p, n, "malloc");
        if (p) { size_t u = T_USABLE(p); t_fill(p, u, 1); CHECK(t_check(p, u, 1) == (size_t)-1); }
        T_FREE(p);
    }
    size_t big[] = { 100000, 262143, 262144, 262145, 300000, 1 << 20, (1 << 20) + 1, 8u << 20, 64u << 20 };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        void *p = T_MALLOC(big[i]);
        check_block(p, big[i], "malloc");
        if (p) { t_fill(p, big[i], 2); CHECK(t_check(p, big[i], 2) == (size_t)-1); }
        T_FREE(p);
    }
}

static void test_malloc_zero(void)
{
    enum { N = 1000 };
    static void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = T_MALLOC(0);
        CHECKF(v[i] != NULL, "malloc(0) #%d returned NULL", i);
        /* glibc gives >= 24 usable bytes; we write only 0 (not in the secure
         * build, where a zero-size block is PROT_NONE) */
        if (v[i] && !getenv("HAKTEST_SECURE")) *(volatile char *)v[i] = 0;
    }
    /* unique */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (v[i] && v[i] == v[j]) { CHECKF(0, "malloc(0) returned %p twice", v[i]); i = N; break; }
    for (int i = 0; i < N; i++) T_FREE(v[i]);
}

static void test_free_null(void)
{
    T_FREE(NULL);
    errno = 0;
    T_FREE(NULL);
    CHECK(errno == 0);
    CHECK(T_USABLE(NULL) == 0);
    if (T_HAVE_FREE_SIZED) {
        T_FREE_SIZED(NULL, 0);
        T_FREE_ALIGNED_SIZED(NULL, 64, 0);
    }
}

static void test_free_keeps_errno(void)
{
    size_t sizes[] = { 16, 5000, 1 << 20 };
    for (int i = 0; i < 3; i++) {
        void *p = T_MALLOC(sizes[i]);
        CHECK(p != NULL);
        errno = 12345;
        T_FREE(p);
        CHECKF(errno == 12345, "free of a %zu-byte block changed errno to %d", sizes[i], errno);
    }
}

static void test_huge(void)
{
    size_t huge[] = { SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX,
                      (size_t)PTRDIFF_MAX - 100000, (size_t)1 << 47, (size_t)1 << 62 };
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        errno = 0;
        void *p = T_MALLOC(huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "malloc(%#zx) = %p errno %d", huge[i], p, errno);
        if (p) T_FREE(p);
        errno = 0;
        p = T_CALLOC(1, huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "calloc(1, %#zx) = %p errno %d", huge[i], p, errno);
        errno = 0;
        p = T_REALLOC(NULL, huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "realloc(NULL, %#zx) = %p errno %d", huge[i], p, errno);
        errno = 0;
        p = T_VALLOC(huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "valloc(%#zx) = %p errno %d", huge[i], p, errno);
        errno = 0;
        p = T_PVALLOC(huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "pvalloc(%#zx) = %p errno %d", huge[i], p, errno);
        errno = 0;
        p = T_MEMALIGN(64, huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "memalign(64, %#zx) = %p errno %d", huge[i], p, errno);
        errno = 0;
        p = T_ALIGNED_ALLOC(4096, huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "aligned_alloc(4096, %#zx) = %p errno %d", huge[i], p, errno);
        void *q = (void *)1;
        int r = T_POSIX_MEMALIGN(&q, 64, huge[i]);
        CHECKF(r == ENOMEM, "posix_memalign(64, %#zx) = %d", huge[i], r);
        /* the allocator still works afterwards */
        p = T_MALLOC(100);
        CHECK(p != NULL);
        T_FREE(p);
    }
}

static void test_calloc(void)
{
    size_t sizes[] = { 1, 7, 16, 33, 100, 512, 1000, 1024, 1025, 4096, 10000, 65536, 100000,
                       262144, 262145, 500000, 1 << 20, 3 << 20 };
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            size_t n = sizes[i];
            /* dirty a block of the same size first so a recycled block is seen */
            void *d = T_MALLOC(n);
            if (d) { memset(d, 0xA5, T_USABLE(d)); T_FREE(d); }
            unsigned char *p = T_CALLOC(1, n);
            check_block(p, n, "calloc");
            if (!p) continue;
            for (size_t k = 0; k < n; k++)
                if (p[k]) { CHECKF(0, "calloc(1,%zu)[%zu] = %#x", n, k, p[k]); break; }
            T_FREE(p);
            p = T_CALLOC(n, 3);
            check_block(p, n * 3, "calloc");
            if (p) {
                for (size_t k = 0; k < n * 3; k++)
                    if (p[k]) { CHECKF(0, "calloc(%zu,3)[%zu] = %#x", n, k, p[k]); break; }
                T_FREE(p);
            }
        }
    /* zero counts */
    void *p = T_CALLOC(0, 0); CHECK(p != NULL); T_FREE(p);
    p = T_CALLOC(0, 100); CHECK(p != NULL); T_FREE(p);
    p = T_CALLOC(100, 0); CHECK(p != NULL); T_FREE(p);
    /* overflow */
    struct { size_t a, b; } ov[] = { { SIZE_MAX, 2 }, { SIZE_MAX / 2 + 1, 2 }, { (size_t)1 << 32, (size_t)1 << 32 },
                                     { SIZE_MAX / 3, 4 }, { 2, SIZE_MAX }, { 65537, 281470681808897ull } };
    for (size_t i = 0; i < sizeof ov / sizeof *ov; i++) {
        errno = 0;
        p = T_CALLOC(ov[i].a, ov[i].b);
        CHECKF(p == NULL && errno == ENOMEM, "calloc(%#zx, %#zx) = %p errno %d", ov[i].a, ov[i].b, p, errno);
    }
}

static void test_realloc(void)
{
    /* realloc(NULL, n) == malloc(n) */
    void *p = T_REALLOC(NULL, 100);
    check_block(p, 100, "realloc(NULL)");
    T_FREE(p);
    p = T_REALLOC(NULL, 0);
    CHECK(p != NULL);
    T_FREE(p);
    /* realloc(p, 0) frees p and returns NULL (glibc 2.36) */
    size_t zs[] = { 1, 100, 5000, 300000, 2 << 20 };
    for (int i = 0; i < 5; i++) {
        p = T_MALLOC(zs[i]);
        CHECK(p != NULL);
        errno = 0;
        void *q = T_REALLOC(p, 0);
        CHECKF(q == NULL, "realloc(%zu-byte block, 0) = %p, glibc returns NULL", zs[i], q);
        if (q) T_FREE(q);
    }
    /* content preservation across layers, up and back down */
    size_t chain[] = { 1, 8, 15, 16, 17, 24, 100, 128, 129, 500, 1024, 1025, 2000, 4096, 4097, 32768,
                       65536, 100000, 262143, 262144, 262145, 300000, 1 << 20, (4 << 20) + 3, 16 << 20,
                       (1 << 20) + 5, 300000, 262145, 262144, 200000, 5000, 1025, 1024, 1023, 100, 16, 7, 1,
                       64 << 20, 17, 300001, 3 };
    for (int tag = 0; tag < 3; tag++) {
        size_t n = chain[0];
        p = T_MALLOC(n);
        t_fill_pos(p, n, tag);
        for (size_t i = 1; i < sizeof chain / sizeof *chain; i++) {
            size_t m = chain[i];
            void *q = T_REALLOC(p, m);
            check_block(q, m, "realloc");
            if (!q) break;
            size_t keep = n < m ? n : m;
            size_t bad = t_check_pos(q, keep, tag);
            CHECKF(bad == (size_t)-1, "realloc %zu -> %zu lost byte %zu", n, m, bad);
            t_fill_pos(q, m, tag);
            p = q; n = m;
        }
        T_FREE(p);
    }
    /* growing one byte at a time (string building), then shrinking */
    size_t n = 1;
    p = T_MALLOC(1);
    ((unsigned char *)p)[0] = 0;
    for (size_t m = 2; m < 300000; m += (m < 3000 ? 1 : 97)) {
        void *q = T_REALLOC(p, m);
        CHECK(q != NULL);
        if (!q) break;
        if (t_check_pos(q, n, 9) != (size_t)-1 && n > 1) { CHECKF(0, "grow %zu -> %zu lost content", n, m); break; }
        t_fill_pos(q, m, 9);
        p = q; n = m;
    }
    for (size_t m = n; m > 1; m = m * 3 / 4) {
        void *q = T_REALLOC(p, m);
        CHECK(q != NULL);
        if (!q) break;
        CHECKF(t_check_pos(q, m, 9) == (size_t)-1, "shrink to %zu lost content", m);
        p = q;
    }
    T_FREE(p);
    /* impossible size: NULL, ENOMEM, original block intact and still owned */
    size_t os[] = { 50, 5000, 400000 };
    for (int i = 0; i < 3; i++) {
        p = T_MALLOC(os[i]);
        t_fill_pos(p, os[i], 5);
        size_t bads[] = { SIZE_MAX, SIZE_MAX - 8, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 47 };
        for (int j = 0; j < 4; j++) {
            errno = 0;
            void *q = T_REALLOC(p, bads[j]);
            CHECKF(q == NULL && errno == ENOMEM, "realloc(p, %#zx) = %p errno %d", bads[j], q, errno);
            CHECK(t_check_pos(p, os[i], 5) == (size_t)-1);
        }
        T_FREE(p);
    }
}

static void test_reallocarray(void)
{
    int *a = T_REALLOCARRAY(NULL, 10, sizeof(int));
    CHECK(a != NULL);
    for (int i = 0; i < 10; i++) a[i] = i * 7;
    a = T_REALLOCARRAY(a, 100000, sizeof(int));
    CHECK(a != NULL);
    for (int i = 0; i < 10; i++) CHECK(a[i] == i * 7);
    errno = 0;
    void *q = T_REALLOCARRAY(a, SIZE_MAX / 2, 3);
    CHECKF(q == NULL && errno == ENOMEM, "reallocarray overflow = %p errno %d", q, errno);
    for (int i = 0; i < 10; i++) CHECK(a[i] == i * 7);
    errno = 0;
    q = T_REALLOCARRAY(NULL, (size_t)1 << 33, (size_t)1 << 33);
    CHECKF(q == NULL && errno == ENOMEM, "reallocarray(NULL) overflow = %p errno %d", q, errno);
    a = T_REALLOCARRAY(a, 3, sizeof(int));
    CHECK(a != NULL && a[2] == 14);
    T_FREE(a);
}

static const size_t al_sizes[] = { 0, 1, 8, 15, 16, 17, 100, 1000, 1024, 1025, 4095, 4096, 4097, 20000,
                                   65536, 200000, 262144, 262145, 1 << 20, (1 << 20) + 1 };
#define NAL_SIZES (sizeof al_sizes / sizeof *al_sizes)

static void test_posix_memalign(void)
{
    for (size_t a = sizeof(void *); a <= (4u << 20); a <<= 1)
        for (size_t i = 0; i < NAL_SIZES; i++) {
            size_t n = al_sizes[i];
            void *p = NULL;
            int r = T_POSIX_MEMALIGN(&p, a, n);
            CHECKF(r == 0 && p != NULL, "posix_memalign(%zu, %zu) = %d", a, n, r);
            if (r || !p) continue;
            CHECKF(ALIGNED(p, a), "posix_memalign(%zu, %zu) = %p misaligned", a, n, p);
            CHECKF(T_USABLE(p) >= n, "posix_memalign(%zu, %zu): usable %zu", a, n, T_USABLE(p));
            t_fill(p, n, a);
            CHECK(t_check(p, n, a) == (size_t)-1);
            T_FREE(p);
        }
    size_t bad[] = { 0, 1, 2, 4, 3, 12, 24, 48, 100, 4097, SIZE_MAX, (SIZE_MAX >> 1) + 2 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *p = (void *)0x1234;
        int r = T_POSIX_MEMALIGN(&p, bad[i], 64);
        CHECKF(r == EINVAL, "posix_memalign(alignment %zu) = %d, want EINVAL", bad[i], r);
        if (r == 0) T_FREE(p);
    }
    /* a huge power-of-two alignment cannot be satisfied */
    void *p = NULL;
    int r = T_POSIX_MEMALIGN(&p, (size_t)1 << 62, 64);
    CHECKF(r == ENOMEM, "posix_memalign(2^62, 64) = %d, want ENOMEM", r);
}

/* aligned_alloc and memalign: glibc 2.36 semantics (see the top of the file) */
static void test_aligned_generic(void *(*fn)(size_t, size_t), const char *name)
{
    for (size_t a = 1; a <= (4u << 20); a <<= 1)
        for (size_t i = 0; i < NAL_SIZES; i++) {
            size_t n = al_sizes[i];
            void *p = fn(a, n);
            CHECKF(p != NULL, "%s(%zu, %zu) = NULL", name, a, n);
            if (!p) continue;
            CHECKF(ALIGNED(p, a), "%s(%zu, %zu) = %p misaligned", name, a, n, p);
            if (a < 16 && n >= 16) CHECKF(ALIGNED(p, 16), "%s(%zu, %zu) = %p not 16-aligned", name, a, n, p);
            CHECKF(T_USABLE(p) >= n, "%s(%zu, %zu): usable %zu", name, a, n, T_USABLE(p));
            t_fill(p, n, a);
            CHECK(t_check(p, n, a) == (size_t)-1);
            T_FREE(p);
        }
    /* alignment 0 and non-powers of two are accepted and rounded up */
    size_t odd[] = { 0, 3, 5, 24, 48, 100, 1000, 3000, 5000, 65537 };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        size_t want = 1;
        while (want < odd[i]) want <<= 1;
        errno = 0;
        void *p = fn(odd[i], 100);
        CHECKF(p != NULL, "%s(%zu, 100) = NULL errno %d (glibc rounds the alignment up)", name, odd[i], errno);
        if (!p) continue;
        CHECKF(ALIGNED(p, want), "%s(%zu, 100) = %p not %zu-aligned", name, odd[i], p, want);
        CHECK(T_USABLE(p) >= 100);
        T_FREE(p);
    }
    /* alignment above SIZE_MAX/2+1: EINVAL */
    size_t einval[] = { SIZE_MAX, (SIZE_MAX >> 1) + 2 };
    for (int i = 0; i < 2; i++) {
        errno = 0;
        void *p = fn(einval[i], 64);
        CHECKF(p == NULL && errno == EINVAL, "%s(%#zx, 64) = %p errno %d, want EINVAL", name, einval[i], p, errno);
    }
    /* a power-of-two alignment too big to satisfy: ENOMEM */
    errno = 0;
    void *p = fn((size_t)1 << 63, 64);
    CHECKF(p == NULL && errno == ENOMEM, "%s(2^63, 64) = %p errno %d, want ENOMEM", name, p, errno);
    errno = 0;
    p = fn((size_t)1 << 62, 64);
    CHECKF(p == NULL && errno == ENOMEM, "%s(2^62, 64) = %p errno %d, want ENOMEM", name, p, errno);
}
static void *aa_wrap(size_t a, size_t n) { return T_ALIGNED_ALLOC(a, n); }
static void *ma_wrap(size_t a, size_t n) { return T_MEMALIGN(a, n); }
static void test_aligned_alloc(void) { test_aligned_generic(aa_wrap, "aligned_alloc"); }
static void test_memalign(void) { test_aligned_generic(ma_wrap, "memalign"); }

static void test_valloc_pvalloc(void)
{
    size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 10000, 65536, 262144, 300000, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        void *p = T_VALLOC(n);
        CHECKF(p && ALIGNED(p, page), "valloc(%zu) = %p", n, p);
        if (p) {
            CHECK(T_USABLE(p) >= n);
            t_fill(p, n, 3); CHECK(t_check(p, n, 3) == (size_t)-1);
            T_FREE(p);
        }
        p = T_PVALLOC(n);
        CHECKF(p && ALIGNED(p, page), "pvalloc(%zu) = %p", n, p);
        if (p) {
            size_t r = (n + page - 1) & ~(page - 1);
            CHECKF(T_USABLE(p) >= r, "pvalloc(%zu): usable %zu < %zu", n, T_USABLE(p), r);
            t_fill(p, r, 4); CHECK(t_check(p, r, 4) == (size_t)-1);
            T_FREE(p);
        }
    }
}

static void test_free_sized(void)
{
    if (!T_HAVE_FREE_SIZED) {
        fprintf(stderr, "note: free_sized/free_aligned_sized not available (system allocator), skipped\n");
        return;
    }
    size_t sizes[] = { 1, 16, 100, 1024, 1025, 5000, 65536, 262144, 262145, 1 << 20 };
    for (int rep = 0; rep < 100; rep++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            void *p = T_MALLOC(sizes[i]);
            CHECK(p != NULL);
            t_fill(p, sizes[i], 0);
            T_FREE_SIZED(p, sizes[i]);
            p = T_CALLOC(sizes[i], 1);
            CHECK(p != NULL);
            T_FREE_SIZED(p, sizes[i]);
            p = T_REALLOC(NULL, sizes[i]);
            T_FREE_SIZED(p, sizes[i]);
            for (size_t a = 16; a <= 65536; a <<= 2) {
                size_t n = (sizes[i] + a - 1) / a * a; /* aligned_alloc wants a multiple (C11) */
                p = T_ALIGNED_ALLOC(a, n);
                CHECK(p != NULL && ALIGNED(p, a));
                if (p) t_fill(p, n, 1);
                T_FREE_ALIGNED_SIZED(p, a, n);
            }
        }
    void *p = T_MALLOC(0);
    T_FREE_SIZED(p, 0);
}

/* Correct sized frees pass at every class boundary (hakmem checks the size
 * against the block; a wrong one aborts, test_badfree.c): the smallest and
 * the largest size of each class and Large sizes, through malloc, calloc
 * and realloc(NULL) with free_sized, aligned_alloc with free_aligned_sized
 * (alignments 1 to 1 MiB, a small size with a big alignment is a Large
 * block), and blocks realloc left in place or grew with headroom. */
static void test_sized_boundaries(void)
{
    if (!T_HAVE_FREE_SIZED) {
        fprintf(stderr, "note: free_sized/free_aligned_sized not available (system allocator), skipped\n");
        return;
    }
    static size_t sizes[256];
    size_t ns = 0, prev = 0;
    /* the class sizes: 16-byte steps to 128, then four per power of two to 256 KiB */
    static size_t cls[64];
    size_t nc = 0;
    for (size_t c = 16; c <= 128; c += 16) cls[nc++] = c;
    for (size_t b = 128; b < 262144; b *= 2)
        for (size_t k = 5; k <= 8; k++) cls[nc++] = b * k / 4;
    CHECK(nc == 52 && cls[nc - 1] == 262144);
    sizes[ns++] = 0;
    for (size_t i = 0; i < nc; i++) {
        sizes[ns++] = prev + 1;
        sizes[ns++] = cls[i];
        prev = cls[i];
    }
    sizes[ns++] = 262145; sizes[ns++] = 300000; sizes[ns++] = 1 << 20; sizes[ns++] = (8 << 20) + 1;
    for (size_t i = 0; i < ns; i++) {
        size_t n = sizes[i];
        void *p = T_MALLOC(n);
        CHECK(p != NULL);
        T_FREE_SIZED(p, n);
        p = T_CALLOC(1, n);
        CHECK(p != NULL);
        T_FREE_SIZED(p, n);
        p = T_REALLOC(NULL, n);
        CHECK(p != NULL);
        T_FREE_SIZED(p, n);
        for (size_t a = 1; a <= (1 << 20); a <<= 1) {
            p = T_ALIGNED_ALLOC(a, n);
            CHECKF(p != NULL && ALIGNED(p, a), "aligned_alloc(%zu, %zu) = %p", a, n, p);
            T_FREE_ALIGNED_SIZED(p, a, n);
        }
    }
    /* what realloc leaves: in place down to half the block, up with headroom,
     * Large blocks shrunk in place or grown past the border */
    for (size_t i = 1; i < ns; i++) {
        size_t n = sizes[i];
        size_t to[] = { n / 2 + 1, n - n / 8, n + 1, n + n / 4, 2 * n - 1, n > 1024 ? n / 2 : 1 };
        for (size_t j = 0; j < sizeof to / sizeof *to; j++) {
            char *p = T_MALLOC(n), *q;
            CHECK(p != NULL);
            q = T_REALLOC(p, to[j]);
            CHECKF(q != NULL, "realloc(%zu -> %zu)", n, to[j]);
            if (q) T_FREE_SIZED(q, to[j]);
        }
    }
    char *p = T_MALLOC(40000), *q;
    for (size_t n = 40000; n < (4 << 20); n = n * 3 / 2) {   /* grown step by step, then shrunk */
        q = T_REALLOC(p, n);
        CHECK(q != NULL);
        p = q;
    }
    for (size_t n = 4 << 20; n > 16; n = n * 7 / 8) {
        q = T_REALLOC(p, n);
        CHECK(q != NULL);
        p = q;
        if (n % 7 == 0) {   /* now and then: freed here with its size, a new one goes on */
            T_FREE_SIZED(p, n);
            p = T_MALLOC(n);
            CHECK(p != NULL);
        }
    }
    T_FREE(p);
    size_t last = 100000;
    q = T_REALLOC(NULL, last);
    for (size_t n = last; n > 20; n = n * 15 / 16) {   /* a Mid block shrunk in small steps */
        p = T_REALLOC(q, n);
        CHECK(p != NULL);
        q = p;
        last = n;
    }
    T_FREE_SIZED(q, last);
}

/* Every size 1..4096, then every class boundary (+-1) to 300000 and a stride,
 * with many blocks live at once so overlaps show up as corrupted contents. */
static void test_size_classes(void)
{
    enum { MAXB = 16384 };
    static void *blk[MAXB];
    static size_t bsz[MAXB];
    int nb = 0;
    size_t sizes_n = 0;
    static size_t sizes[40000];
    for (size_t n = 1; n <= 4096; n++) sizes[sizes_n++] = n;
    for (int b = 12; b <= 18; b++)
        for (int k = 0; k < 4; k++) {
            size_t s = ((size_t)1 << b) + (size_t)k * ((size_t)1 << (b - 2));
            sizes[sizes_n++] = s - 1; sizes[sizes_n++] = s; sizes[sizes_n++] = s + 1;
        }
    for (size_t n = 4096 + 61; n <= 300000; n += 61) sizes[sizes_n++] = n;
    sizes[sizes_n++] = 262144; sizes[sizes_n++] = 262145; sizes[sizes_n++] = 300000;

    size_t live_bytes = 0;
    for (size_t i = 0; i < sizes_n; i++) {
        size_t n = sizes[i];
        for (int rep = 0; rep < (n <= 4096 ? 3 : 1); rep++) {
            void *p = T_MALLOC(n);
            check_block(p, n, "malloc");
            if (!p) continue;
            t_fill(p, n, 0xC1A55);
            blk[nb] = p; bsz[nb] = n; nb++;
            live_bytes += n;
            if (nb == MAXB || live_bytes > (64u << 20)) {
                for (int j = 0; j < nb; j++) {
                    size_t bad = t_check(blk[j], bsz[j], 0xC1A55);
                    CHECKF(bad == (size_t)-1, "block %p size %zu corrupted at %zu", blk[j], bsz[j], bad);
                    T_FREE(blk[j]);
                }
                nb = 0; live_bytes = 0;
            }
        }
    }
    for (int j = 0; j < nb; j++) {
        size_t bad = t_check(blk[j], bsz[j], 0xC1A55);
        CHECKF(bad == (size_t)-1, "block %p size %zu corrupted at %zu", blk[j], bsz[j], bad);
        T_FREE(blk[j]);
    }
}

/* Random mixed sizes, many live, random free order, realloc, reuse.  The
 * pattern depends on offset and slot (it must survive realloc moves). */
static void test_random_mix(void)
{
    enum { N = 20000 };
    static void *v[N];
    static size_t sz[N];
    uint64_t rs = 88172645463325252ull;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            if (v[i] && (t_rand(&rs) & 1)) {
                size_t bad = t_check_pos(v[i], sz[i], (uint64_t)i);
                CHECKF(bad == (size_t)-1, "block %d (%p, %zu) corrupted at %zu", i, v[i], sz[i], bad);
                if (t_rand(&rs) & 1) { T_FREE(v[i]); v[i] = NULL; }
                else {
                    size_t m = t_rand_size(&rs);
                    void *q = T_REALLOC(v[i], m);
                    CHECK(q != NULL);
                    if (!q) continue;
                    size_t keep = sz[i] < m ? sz[i] : m;
                    size_t bad2 = t_check_pos(q, keep, (uint64_t)i);
                    CHECKF(bad2 == (size_t)-1, "realloc %zu -> %zu lost byte %zu", sz[i], m, bad2);
                    v[i] = q; sz[i] = m;
                    t_fill_pos(q, m, (uint64_t)i);
                }
            }
            if (!v[i]) {
                sz[i] = t_rand_size(&rs);
                v[i] = T_MALLOC(sz[i]);
                CHECK(v[i] != NULL);
                if (v[i]) t_fill_pos(v[i], sz[i], (uint64_t)i);
            }
        }
    }
    for (int i = 0; i < N; i++)
        if (v[i]) {
            CHECKF(t_check_pos(v[i], sz[i], (uint64_t)i) == (size_t)-1, "block %d corrupted", i);
            T_FREE(v[i]);
            v[i] = NULL;
        }
}

static const struct test tests[] = {
    { "malloc_basic", test_malloc_basic },
    { "malloc_zero", test_malloc_zero },
    { "free_null", test_free_null },
    { "free_keeps_errno", test_free_keeps_errno },
    { "huge_enomem", test_huge },
    { "calloc", test_calloc },
    { "realloc", test_realloc },
    { "reallocarray", test_reallocarray },
    { "posix_memalign", test_posix_memalign },
    { "aligned_alloc", test_aligned_alloc },
    { "memalign", test_memalign },
    { "valloc_pvalloc", test_valloc_pvalloc },
    { "free_sized", test_free_sized },
    { "sized_boundaries", test_sized_boundaries },
    { "size_classes", test_size_classes },
    { "random_mix", test_random_mix },
};

int main(int argc, char **argv)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    return t_run("test_api", tests, sizeof tests / sizeof *tests, argc, argv);
}
