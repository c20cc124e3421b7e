/* The secure build's mechanisms (docs/SECURITY.md), one case each, run under
 * LD_PRELOAD=build/libhakmem-secure.so.  A bad case runs in a child process:
 * it writes the exact line it expects on stderr to a pipe before its bad
 * call, and must die by SIGABRT with that line; a case that touches a guard
 * page or a zero-size block must die by SIGSEGV.  The good cases check what
 * the secure build promises instead (exact usable sizes, canaries moved by
 * realloc, copies inside a block allowed, refill order shuffled).
 *
 *   test_secure CASE    one case; test_secure list: the cases */
#include "common.h"
#include "child.h"
#include <pthread.h>
/* the out-of-bounds writes are the point */
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wuse-after-free"

extern void free_sized(void *, size_t) __attribute__((weak));

static volatile void *sink;
static char stack_buf[128] __attribute__((aligned(16)));

#define OVERFLOW "hakmem: %s: buffer overflow: the %zu-byte block at %p was written past its end\n"
#define COPY "hakmem: %s: buffer overflow: %zu bytes at %p run %zu bytes past the end of a hakmem block\n"
#define DOUBLE "hakmem: %s: double free of %p (the block is already free)\n"
#define INVALID "hakmem: %s: invalid pointer %p (not a block hakmem handed out)\n"
#define CORRUPT "hakmem: %s: heap corruption at %p (a free block was written after it was freed)\n"

/* through a pointer the compiler cannot see through: the copies are the
 * library's, not inlined */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;
static void *(*volatile set_fn)(void *, int, size_t) = memset;
static char *(*volatile strcpy_fn)(char *, const char *) = strcpy;

/* Two blocks of n bytes next to each other (b right after a). */
static void adjacent(size_t n, size_t slot, char **a, char **b)
{
    enum { N = 256 };
    static char *v[N];
    for (int i = 0; i < N; i++) v[i] = T_MALLOC(n);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (v[j] == v[i] + slot) { *a = v[i]; *b = v[j]; return; }
    _exit(95);
}

/* ---- cases that must stop the program ---- */

static void bad_case(const char *name)
{
    if (!strcmp(name, "double_small")) {
        char *p = T_MALLOC(40); T_FREE(p);
        t_expect(DOUBLE, "free()", (void *)p);
        T_FREE(p);
    } else if (!strcmp(name, "double_large")) {
        char *p = T_MALLOC(1 << 20); T_FREE(p);
        t_expect(INVALID, "free()", (void *)p);   /* its pages went back to the page heap */
        T_FREE(p);
    } else if (!strcmp(name, "double_delayed")) {
        /* other classes come and go in between: the block stays free */
        char *p = T_MALLOC(200); T_FREE(p);
        for (int i = 0; i < 10000; i++) T_FREE(T_MALLOC(16 + (size_t)i % 100));
        t_expect(DOUBLE, "free()", (void *)p);
        T_FREE(p);
    } else if (!strcmp(name, "invalid_stack")) {
        t_expect(INVALID, "free()", (void *)(stack_buf + 16));
        T_FREE(stack_buf + 16);
    } else if (!strcmp(name, "invalid_unaligned")) {
        char *p = T_MALLOC(64); sink = p;
        t_expect(INVALID, "free()", (void *)(p + 1));
        T_FREE(p + 1);
    } else if (!strcmp(name, "never_handed_out")) {
        /* the last 16-byte slot of p's span (one 64 KiB page of 4096 slots):
         * refills take a magazine's worth, never that far */
        char *p = T_MALLOC(8); sink = p;
        char *last = (char *)(((uintptr_t)p | 0xffff) - 15);
        t_expect(INVALID, "free()", (void *)last);
        T_FREE(last);
    } else if (!strcmp(name, "overflow_1")) {
        char *p = T_MALLOC(24);
        t_expect(OVERFLOW, "free()", (size_t)24, (void *)p);
        p[24] = 1;
        T_FREE(p);
    } else if (!strcmp(name, "overflow_8")) {
        char *p = T_MALLOC(100);
        t_expect(OVERFLOW, "free()", (size_t)100, (void *)p);
        memset(p + 100, 0, 0);   /* a zero-length copy past the end is no overflow */
        for (int i = 0; i < 8; i++) ((volatile char *)p)[100 + i] = 'A';
        T_FREE(p);
    } else if (!strcmp(name, "overflow_realloc")) {
        char *p = T_MALLOC(50);
        ((volatile char *)p)[50] = 0x55;
        t_expect(OVERFLOW, "realloc()", (size_t)50, (void *)p);
        sink = T_REALLOC(p, 60);
    } else if (!strcmp(name, "underflow")) {
        /* a write before b lands in a's slot tail (16 bytes of slack: a canary) */
        char *a, *b;
        adjacent(16, 32, &a, &b);
        ((volatile char *)b)[-1] = 0;
        t_expect(OVERFLOW, "free()", (size_t)16, (void *)a);
        T_FREE(a);
    } else if (!strcmp(name, "write_after_free")) {
        char *p = T_MALLOC(64);
        T_FREE(p);
        ((volatile char *)p)[3] = 'x';
        t_expect(CORRUPT, "malloc()", (void *)p);
        sink = T_MALLOC(64);   /* the magazine hands p out first */
    } else if (!strcmp(name, "zero_read")) {
        char *p = T_MALLOC(0);
        sink = (void *)(uintptr_t)*(volatile char *)p;
    } else if (!strcmp(name, "zero_write")) {
        char *p = T_MALLOC(0);
        *(volatile char *)p = 1;
    } else if (!strcmp(name, "zero_aligned_write")) {
        char *p = T_ALIGNED_ALLOC(64, 0);
        *(volatile char *)p = 1;
    } else if (!strcmp(name, "large_overflow_1")) {
        char *p = T_MALLOC(1 << 20);
        ((volatile char *)p)[1 << 20] = 1;
        t_expect(OVERFLOW, "free()", (size_t)1 << 20, (void *)p);
        T_FREE(p);
    } else if (!strcmp(name, "large_overflow_page")) {
        char *p = T_MALLOC(1 << 20);
        ((volatile char *)p)[(1 << 20) + 4096] = 1;   /* the guard page after the block */
    } else if (!strcmp(name, "large_underflow")) {
        char *p = T_MALLOC(1 << 20);
        ((volatile char *)p)[-1] = 1;                 /* the guard page before it */
    } else if (!strcmp(name, "sized_mismatch")) {
        if (!free_sized) _exit(91);
        char *p = T_MALLOC(24);
        t_expect("hakmem: free_sized(): size 25 does not match the block at %p (a block of 24 bytes)\n", (void *)p);
        free_sized(p, 25);
    } else if (!strcmp(name, "usable_invalid")) {
        char *p = T_MALLOC(64); sink = p;
        t_expect(INVALID, "malloc_usable_size()", (void *)(p + 16));
        sink = (void *)T_USABLE(p + 16);
    } else if (!strcmp(name, "usable_free")) {
        char *p = T_MALLOC(64); T_FREE(p);
        t_expect(INVALID, "malloc_usable_size()", (void *)p);
        sink = (void *)T_USABLE(p);
    } else if (!strcmp(name, "strcpy_overflow")) {
        char *p = T_MALLOC(8);
        t_expect(COPY, "strcpy()", (size_t)10, (void *)p, (size_t)2);
        strcpy_fn(p, "123456789");
    } else if (!strcmp(name, "memcpy_overflow")) {
        char *p = T_MALLOC(100), src[200] = { 0 };
        t_expect(COPY, "memcpy()", (size_t)101, (void *)p, (size_t)1);
        copy_fn(p, src, 101);
    } else if (!strcmp(name, "memcpy_overread")) {
        char *p = T_MALLOC(100), dst[200];
        memset(p, 0, 100);
        t_expect(COPY, "memcpy()", (size_t)132, (void *)p, (size_t)32);
        copy_fn(dst, p, 132);
    } else if (!strcmp(name, "memset_underflow")) {
        char *a, *b;
        adjacent(100, 112, &a, &b);   /* 101 bytes: class 112 */
        t_expect(COPY, "memset()", (size_t)8, (void *)(b - 4), (size_t)8);
        set_fn(b - 4, 0, 8);           /* starts in a's slack */
    } else if (!strcmp(name, "memcpy_free_block")) {
        char *p = T_MALLOC(100), src[16] = { 0 };
        T_FREE(p);
        t_expect(CORRUPT, "memcpy()", (void *)p);
        copy_fn(p, src, 16);
    } else {
        fprintf(stderr, "unknown case %s\n", name);
        _exit(92);
    }
    _exit(0);   /* reached only when the bad input was not detected */
}

static const char *const BAD[] = {
    "double_small", "double_large", "double_delayed", "invalid_stack", "invalid_unaligned", "never_handed_out",
    "overflow_1", "overflow_8", "overflow_realloc", "underflow", "write_after_free", "zero_read", "zero_write",
    "zero_aligned_write", "large_overflow_1", "large_overflow_page", "large_underflow", "sized_mismatch",
    "usable_invalid", "usable_free", "strcpy_overflow", "memcpy_overflow", "memcpy_overread",
    "memset_underflow", "memcpy_free_block",
};

static int want_segv(const char *name)
{
    return !strncmp(name, "zero_", 5) || !strcmp(name, "large_overflow_page") || !strcmp(name, "large_underflow");
}

static int run_bad(const char *name)
{
    t_child_t c;
    int sig = want_segv(name) ? SIGSEGV : SIGABRT;
    t_run_child(bad_case, name, &c);
    if (!WIFSIGNALED(c.status) || WTERMSIG(c.status) != sig) {
        if (WIFSIGNALED(c.status)) fprintf(stderr, "FAIL %s: died by signal %d, want %d\n", name, WTERMSIG(c.status), sig);
        else fprintf(stderr, "FAIL %s: child exited with %d (0: not detected)\n", name, WEXITSTATUS(c.status));
        fprintf(stderr, "stderr: %s", c.out);
        return 1;
    }
    if (sig == SIGABRT && strcmp(c.out, c.want)) {
        fprintf(stderr, "FAIL %s: stderr\n  %s  want\n  %s", name, c.out, c.want);
        return 1;
    }
    fprintf(stderr, "ok %s: %s", name, sig == SIGABRT ? c.out : "SIGSEGV\n");
    return 0;
}

/* ---- what the secure build promises instead ---- */

static int good_usable(void)
{
    static const size_t sizes[] = { 1, 15, 16, 17, 31, 32, 100, 1023, 1024, 4096, 65536, 262143, 262144, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *p = T_MALLOC(sizes[i]);
        CHECKF(p && T_USABLE(p) == sizes[i], "malloc(%zu): usable %zu, want the request", sizes[i], T_USABLE(p));
        memset(p, 0xab, sizes[i]);   /* the whole request, through the guarded memset */
        T_FREE(p);
    }
    char *z = T_MALLOC(0);
    CHECKF(z && T_USABLE(z) == 0, "malloc(0): usable %zu", T_USABLE(z));
    T_FREE(z);
    void *a = T_ALIGNED_ALLOC(4096, 100);
    CHECKF(a && (uintptr_t)a % 4096 == 0 && T_USABLE(a) == 100, "aligned_alloc(4096, 100): %p usable %zu", a,
           T_USABLE(a));
    T_FREE(a);
    return t_failures;
}

static int good_realloc(void)
{
    char *p = T_MALLOC(20);
    memset(p, 7, 20);
    char *q = T_REALLOC(p, 27);   /* the same class (32): in place, the canary moves */
    CHECKF(q == p && T_USABLE(q) == 27, "realloc 20 -> 27: %p -> %p, usable %zu", (void *)p, (void *)q, T_USABLE(q));
    memset(q + 20, 8, 7);
    q = T_REALLOC(q, 5000);
    CHECK(q && T_USABLE(q) == 5000 && q[0] == 7 && q[26] == 8);
    q = T_REALLOC(q, 3 << 20);
    CHECK(q && T_USABLE(q) == (3u << 20) && q[0] == 7 && q[26] == 8);
    T_FREE(q);
    return t_failures;
}

static int good_zero_unique(void)
{
    enum { N = 5000 };
    static void *v[N];
    for (int i = 0; i < N; i++) v[i] = T_MALLOC(0);
    for (int i = 1; i < N; i++)
        CHECKF(v[i] && v[i] != v[i - 1], "malloc(0) #%d: %p", i, v[i]);
    for (int i = 0; i < N; i++) T_FREE(v[i]);
    return t_failures;
}

/* A refill hands out its blocks in random order: a fresh thread's first
 * blocks of a class are not in address order. */
static void *first_blocks(void *arg)
{
    uintptr_t *out = arg;
    for (int i = 0; i < 32; i++) out[i] = (uintptr_t)T_MALLOC(700);
    return NULL;
}

static int good_random_order(void)
{
    uintptr_t v[32];
    pthread_t t;
    pthread_create(&t, NULL, first_blocks, v);
    pthread_join(t, NULL);
    int up = 0;
    for (int i = 1; i < 32; i++) up += v[i] > v[i - 1];
    CHECKF(up > 4 && up < 27, "%d of 31 steps upward: not shuffled", up);
    return t_failures;
}

static int good_copies(void)
{
    char *p = T_MALLOC(100), *q = T_MALLOC(100);
    memset(p, 1, 100);
    copy_fn(q, p, 100);
    memmove(q + 1, q, 99);
    strcpy_fn(p, "within the block");
    CHECK(q[99] == 1 && !strcmp(p, "within the block"));
    char local[64];
    copy_fn(local, p, 17);   /* memory that is not hakmem's: not checked */
    T_FREE(p);
    T_FREE(q);
    return t_failures;
}

static const struct { const char *name; int (*fn)(void); } GOOD[] = {
    { "usable_exact", good_usable }, { "realloc_canary", good_realloc }, { "zero_unique", good_zero_unique },
    { "random_order", good_random_order }, { "copies_inside", good_copies },
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_secure CASE | list\n");
        return 2;
    }
    if (!strcmp(argv[1], "list")) {
        for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) printf("%s\n", GOOD[i].name);
        for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) printf("%s\n", BAD[i]);
        return 0;
    }
    t_require_hakmem();
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++)
        if (!strcmp(argv[1], GOOD[i].name))
            return GOOD[i].fn() ? 1 : 0;
    return run_bad(argv[1]);
}
