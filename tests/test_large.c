/* Large blocks (core/hakmem_large.c, core/hakmem_page_heap.c): freed blocks
 * kept resident for reuse, released later, and realloc across the Mid ->
 * Large border.
 *   reuse        a freed block comes back at the same address with its pages
 *                resident: rewriting it takes (almost) no page faults
 *   calloc       calloc on reused memory (whole, split, grown) reads as zeros
 *   reuse_other  a freed block's range serves a request of another size: same
 *                address, warm pages, no new mapping
 *   quiet        freed blocks stay resident while the program is busy; during
 *                a trickle of calls after it (a quiet phase) their pages go
 *                back once the decay has passed
 *   split_join   a small request takes the head of a big cached block; growing
 *                it takes the cached tail in place; freed halves join again
 *   shrink_tail  a shrunk block's tail is reused by the next request
 *   bound        freeing far more than the cache bound leaves at most the bound
 *   decay        cached blocks are unmapped once the decay has passed (the next
 *                large call does it; run with HAKMEM_LARGE_DECAY_MS=100)
 *   release      hak_release_free_memory() unmaps the cache at once
 *   border       realloc up across the border (a Large block from 64 KiB on:
 *                page-granular usable size) and back down, contents checked
 *   threads      4 threads allocate, grow, shrink and free large blocks with
 *                contents checked (mremap runs with no lock held)
 *   huge_large   (HAKMEM_HUGEPAGES=1) blocks of 2 MiB and more are 2 MiB
 *                aligned with MADV_HUGEPAGE, also after realloc moved them and
 *                when they come from the cache
 *   huge_release (HAKMEM_HUGEPAGES=1) Mid segments are MADV_HUGEPAGE; once
 *                their free pages are given back they leave it (khugepaged
 *                would fill them again) and RSS stays down over an idle
 *                longer than khugepaged's scan period
 * Run as: test_large [name-substring]
 */
#include "common.h"
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/resource.h>

#define MiB (1024u * 1024u)

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_reuse(void)
{
    size_t n = 8 * MiB;
    unsigned char *p = T_MALLOC(n);
    CHECK(p != NULL);
    memset(p, 1, n);
    T_FREE(p);
    long f0 = minflt();
    unsigned char *q = T_MALLOC(n);
    CHECK(q != NULL);
    memset(q, 2, n);
    long faults = minflt() - f0;
    if (t_hakmem_active()) {
        CHECKF(q == p, "the freed 8 MiB block was not reused (%p, then %p)", (void *)p, (void *)q);
        CHECKF(faults < 64, "rewriting a reused 8 MiB block took %ld page faults", faults);
    }
    T_FREE(q);
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static void test_calloc(void)
{
    /* whole reuse, a split head, then a grown piece: all must read as zeros */
    size_t sizes[][2] = { { 4 * MiB, 4 * MiB }, { 16 * MiB, 2 * MiB }, { 3 * MiB, 5 * MiB } };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = T_MALLOC(sizes[i][0]);
        CHECK(p != NULL);
        memset(p, 0xAB, sizes[i][0]);
        T_FREE(p);
        unsigned char *q = T_CALLOC(1, sizes[i][1]);
        CHECK(q != NULL);
        CHECKF(q && all_zero(q, sizes[i][1]), "calloc(%zu) after freeing a dirty %zu-byte block is not zero",
               sizes[i][1], sizes[i][0]);
        T_FREE(q);
    }
}

static void test_reuse_other(void)
{
    unsigned char *p = T_MALLOC(3 * MiB);
    CHECK(p != NULL);
    memset(p, 1, 3 * MiB);
    T_FREE(p);
    int maps = t_maps_lines();
    long f0 = minflt();
    unsigned char *q = T_MALLOC(2 * MiB);
    CHECK(q != NULL);
    memset(q, 2, 2 * MiB);
    if (t_hakmem_active()) {
        CHECKF(q == p, "2 MiB at %p, not in the freed 3 MiB range at %p", (void *)q, (void *)p);
        CHECKF(minflt() - f0 < 64, "writing the reused range took %ld page faults", minflt() - f0);
        CHECKF(t_maps_lines() == maps, "a new mapping for a request a freed range holds (%d -> %d)", maps,
               t_maps_lines());
    }
    T_FREE(q);
}

static void test_quiet(void)
{
    enum { K = 24 };
    void *v[K];
    for (int k = 0; k < K; k++) {
        v[k] = T_MALLOC(1 * MiB);
        CHECK(v[k] != NULL);
        memset(v[k], k, 1 * MiB);
    }
    long busy = rss_kb();
    for (int k = 0; k < K; k++)
        T_FREE(v[k]);
    long freed = rss_kb();
    if (t_hakmem_active())
        CHECKF(busy - freed < 4 * 1024, "freed blocks left at once (%ld -> %ld KiB): not kept warm", busy, freed);
    for (int i = 0; i < 50; i++) {   /* a trickle of calls for 0.5 s, 5 decays */
        sleep_ms(10);
        void *q = T_MALLOC(300000);
        CHECK(q != NULL);
        T_FREE(q);
    }
    long after = rss_kb();
    CHECKF(busy - after > 20 * 1024, "24 MiB freed still resident after the quiet phase (%ld -> %ld KiB)", busy,
           after);
}

static void test_split_join(void)
{
    unsigned char *big = T_MALLOC(16 * MiB);
    CHECK(big != NULL);
    memset(big, 3, 16 * MiB);
    T_FREE(big);
    unsigned char *p = T_MALLOC(1 * MiB);
    CHECK(p != NULL);
    if (t_hakmem_active()) CHECKF(p == big, "1 MiB did not take the head of the cached 16 MiB block");
    t_fill_pos(p, 1 * MiB, 5);
    long f0 = minflt();
    unsigned char *q = T_REALLOC(p, 8 * MiB);
    CHECK(q != NULL);
    if (!q) return;
    CHECK(t_check_pos(q, 1 * MiB, 5) == (size_t)-1);
    memset(q + 1 * MiB, 4, 7 * MiB);
    if (t_hakmem_active()) {
        CHECKF(q == p, "growth into the cached tail moved the block");
        CHECKF(minflt() - f0 < 64, "growth into the cached tail took %ld page faults", minflt() - f0);
    }
    /* the second half of the old block is still cached: a request fits it */
    unsigned char *r = T_MALLOC(8 * MiB);
    CHECK(r != NULL);
    if (t_hakmem_active()) CHECKF(r == big + 8 * MiB, "the cached tail was not reused");
    memset(r, 5, 8 * MiB);
    T_FREE(q);
    T_FREE(r);
    /* both halves freed: joined, so 16 MiB fits at the old address again */
    unsigned char *s = T_MALLOC(16 * MiB);
    CHECK(s != NULL);
    if (t_hakmem_active()) CHECKF(s == big, "freed neighbours were not joined");
    T_FREE(s);
}

static void test_shrink_tail(void)
{
    size_t n = 16 * MiB;
    unsigned char *p = T_MALLOC(n);
    CHECK(p != NULL);
    t_fill_pos(p, n, 7);
    unsigned char *q = T_REALLOC(p, 4 * MiB);
    CHECK(q == p || !t_hakmem_active());
    CHECK(t_check_pos(q, 4 * MiB, 7) == (size_t)-1);
    unsigned char *r = T_MALLOC(12 * MiB);
    CHECK(r != NULL);
    if (t_hakmem_active()) CHECKF(r == q + 4 * MiB, "the shrunk block's tail was not reused");
    memset(r, 9, 12 * MiB);
    CHECK(t_check_pos(q, 4 * MiB, 7) == (size_t)-1);
    T_FREE(r);
    T_FREE(q);
}

static void test_bound(void)
{
    enum { K = 12 };
    void *v[K];
    t_release_free_memory();
    long base = rss_kb();
    for (int k = 0; k < K; k++) {
        v[k] = T_MALLOC(16 * MiB);
        CHECK(v[k] != NULL);
        memset(v[k], k, 16 * MiB);
    }
    for (int k = 0; k < K; k++) T_FREE(v[k]);
    long held = rss_kb() - base;
    /* the default bound is 64 MiB (HAKMEM_LARGE_CACHE_MB); glibc trims to ~0 */
    CHECKF(held < 72 * 1024, "%ld KiB still resident after freeing 192 MiB (bound 64 MiB)", held);
}

static void test_decay(void)
{
    const char *d = getenv("HAKMEM_LARGE_DECAY_MS");
    unsigned char *p = T_MALLOC(32 * MiB);
    CHECK(p != NULL);
    memset(p, 1, 32 * MiB);
    long before = rss_kb();
    T_FREE(p);
    long cached = rss_kb();
    if (t_hakmem_active() && d && atol(d) >= 50)
        CHECKF(before - cached < 4 * 1024, "the freed block left at once (%ld -> %ld KiB): not cached", before, cached);
    sleep_ms(d ? 3 * atol(d) : 100);
    void *q = T_MALLOC(300000);   /* a large call: it unmaps what has decayed */
    CHECK(q != NULL);
    T_FREE(q);
    long after = rss_kb();
    CHECKF(before - after > 28 * 1024, "32 MiB still resident after the decay (%ld -> %ld KiB)", before, after);
}

static void test_release(void)
{
    unsigned char *p = T_MALLOC(32 * MiB);
    CHECK(p != NULL);
    memset(p, 1, 32 * MiB);
    long before = rss_kb();
    T_FREE(p);
    size_t pages = t_release_free_memory();
    long after = rss_kb();
    if (t_hakmem_active()) {
        CHECKF(pages >= 8192, "hak_release_free_memory released %zu pages, not the 32 MiB cached", pages);
        CHECKF(before - after > 28 * 1024, "32 MiB still resident after the release (%ld -> %ld KiB)", before, after);
    }
}

/* realloc p holding `have` position-pattern bytes to n; the prefix must stay */
static unsigned char *regrow(unsigned char *p, size_t have, size_t n, uint64_t tag)
{
    unsigned char *q = T_REALLOC(p, n);
    CHECKF(q != NULL, "realloc(%zu -> %zu) failed", have, n);
    if (!q) exit(1);
    size_t keep = have < n ? have : n;
    CHECKF(t_check_pos(q, keep, tag) == (size_t)-1, "realloc(%zu -> %zu) lost the contents", have, n);
    t_fill_pos(q, n, tag);
    return q;
}

static void test_border(void)
{
    /* up: Tiny -> Mid -> Large (>= the 64 KiB border: page-granular) -> big */
    size_t up[] = { 100, 5000, 40000, 70000, 200000, 1 * MiB, 16 * MiB };
    size_t n = 10;
    unsigned char *p = T_MALLOC(n);
    t_fill_pos(p, n, 21);
    for (size_t i = 0; i < sizeof up / sizeof *up; i++) {
        p = regrow(p, n, up[i], 21);
        n = up[i];
        if (t_hakmem_active() && n >= 65536)
            CHECKF(T_USABLE(p) % 4096 == 0 && T_USABLE(p) < n + 2 * 4096 + n / 8,
                   "a block grown to %zu is not a Large block (usable %zu)", n, T_USABLE(p));
    }
    /* down again, contents checked, to Mid and Tiny */
    size_t down[] = { 8 * MiB, 300000, 100000, 40000, 3000, 24 };
    for (size_t i = 0; i < sizeof down / sizeof *down; i++) {
        p = regrow(p, n, down[i], 21);
        n = down[i];
    }
    if (t_hakmem_active()) CHECKF(T_USABLE(p) < 4096, "a block shrunk to 24 bytes has usable size %zu", T_USABLE(p));
    T_FREE(p);
    /* many blocks across the border at once, grown in turns */
    enum { K = 64 };
    unsigned char *v[K];
    size_t len[K];
    for (int k = 0; k < K; k++) { len[k] = 30000 + 1000 * k; v[k] = T_MALLOC(len[k]); t_fill_pos(v[k], len[k], k); }
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < K; k++) { v[k] = regrow(v[k], len[k], len[k] * 2, k); len[k] *= 2; }
    for (int k = 0; k < K; k++) { CHECK(t_check_pos(v[k], len[k], k) == (size_t)-1); T_FREE(v[k]); }
}

static void *thread_main(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    enum { K = 6 };
    unsigned char *v[K] = { 0 };
    size_t len[K] = { 0 };
    for (int it = 0; it < 300; it++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int k = (int)(x % K);
        size_t n = 65536 + (size_t)((x >> 8) % (4 * MiB));
        uint64_t tag = (uintptr_t)arg * 100 + (uint64_t)k;
        if (!v[k]) {
            v[k] = T_MALLOC(n);
            CHECK(v[k] != NULL);
            t_fill_pos(v[k], n, tag);
            len[k] = n;
        } else if ((x >> 40) % 3 == 0) {
            CHECK(t_check_pos(v[k], len[k], tag) == (size_t)-1);
            T_FREE(v[k]);
            v[k] = NULL;
        } else {
            v[k] = regrow(v[k], len[k], n, tag);
            len[k] = n;
        }
    }
    for (int k = 0; k < K; k++)
        if (v[k]) {
            CHECK(t_check_pos(v[k], len[k], (uintptr_t)arg * 100 + (uint64_t)k) == (size_t)-1);
            T_FREE(v[k]);
        }
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_main, (void *)(i + 1));
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
}

/* "hg" (MADV_HUGEPAGE) or "nh" (MADV_NOHUGEPAGE) among the VmFlags of the
 * mapping holding p? */
static int vma_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0, found = 0;
    uintptr_t a = (uintptr_t)p;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = a >= lo && a < hi;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            found = strstr(line, flag) != NULL;
            break;
        }
    }
    if (f) fclose(f);
    return found;
}

/* the hugepage tests check only where hakmem runs with HAKMEM_HUGEPAGES=1 */
static int huge_on(void)
{
    const char *e = getenv("HAKMEM_HUGEPAGES");
    return t_hakmem_active() && e && !strcmp(e, "1");
}

#define TWO_MiB (2 * MiB)

static void test_huge_large(void)
{
    int on = huge_on();
    unsigned char *p = T_MALLOC(3 * MiB);
    CHECK(p != NULL);
    if (on) {
        CHECKF((uintptr_t)p % TWO_MiB == 0, "3 MiB block at %p is not 2 MiB aligned", (void *)p);
        CHECKF(vma_flag(p, " hg"), "3 MiB block without MADV_HUGEPAGE");
        CHECKF(T_USABLE(p) == 4 * MiB, "usable %zu, not 4 MiB", T_USABLE(p));
    }
    unsigned char *q = T_MALLOC(1 * MiB);
    CHECK(q != NULL);
    t_fill_pos(q, MiB, 7);
    unsigned char *g[2] = { NULL, NULL };
    size_t sizes[2] = { 5 * MiB, 19 * MiB };
    for (int i = 0; i < 2; i++) {
        g[i] = T_MALLOC(MiB);      /* in the way of growth in place */
        q = T_REALLOC(q, sizes[i]);
        CHECK(q != NULL);
        CHECKF(t_check_pos(q, MiB, 7) == (size_t)-1, "realloc to %zu lost contents", sizes[i]);
        if (on) {
            CHECKF((uintptr_t)q % TWO_MiB == 0, "grown to %zu at %p: not 2 MiB aligned", sizes[i], (void *)q);
            CHECKF(vma_flag(q, " hg"), "grown block without MADV_HUGEPAGE");
        }
    }
    T_FREE(p);
    T_FREE(q);
    p = T_MALLOC(7 * MiB);       /* from the cache */
    CHECK(p != NULL);
    if (on)
        CHECKF((uintptr_t)p % TWO_MiB == 0, "reused block at %p is not 2 MiB aligned", (void *)p);
    T_FREE(p);
    T_FREE(g[0]);
    T_FREE(g[1]);
}

static void test_huge_release(void)
{
    int on = huge_on();
    enum { N = 3072, SZ = 16 * 1024 };   /* 48 MiB of Mid blocks */
    static unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = T_MALLOC(SZ);
        CHECK(b[i] != NULL);
        memset(b[i], (int)i, SZ);
    }
    if (on)
        CHECKF(vma_flag(b[N / 2], " hg"), "Mid segment without MADV_HUGEPAGE");
    long full = rss_kb();
    for (int i = 0; i < N; i++)
        if (i % 16) {
            T_FREE(b[i]);
            b[i] = NULL;
        }
    t_release_free_memory();
    long released = rss_kb();
    if (!t_hakmem_active())
        goto out;
    CHECKF(full - released > 30 * 1024, "RSS %ld -> %ld KiB after freeing 15/16 and the release", full, released);
    if (on) {
        CHECKF(vma_flag(b[N / 2], " nh"), "a segment that gave pages back kept MADV_HUGEPAGE");
        char buf[64] = "";
        FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs", "r");
        long scan = f && fgets(buf, sizeof buf, f) ? atol(buf) : 10000;
        if (f) fclose(f);
        sleep_ms((scan < 10000 ? scan : 10000) + 1500);
        long idle = rss_kb();
        CHECKF(idle - released < 4 * 1024, "RSS grew over the idle: %ld -> %ld KiB", released, idle);
    }
out:
    for (int i = 0; i < N; i += 16) {
        CHECK(b[i][0] == (unsigned char)i && b[i][SZ - 1] == (unsigned char)i);
        T_FREE(b[i]);
    }
}

static const struct test tests[] = {
    { "reuse", test_reuse },
    { "calloc", test_calloc },
    { "reuse_other", test_reuse_other },
    { "quiet", test_quiet },
    { "split_join", test_split_join },
    { "shrink_tail", test_shrink_tail },
    { "bound", test_bound },
    { "decay", test_decay },
    { "release", test_release },
    { "border", test_border },
    { "threads", test_threads },
    { "huge_large", test_huge_large },
    { "huge_release", test_huge_release },
};

int main(int argc, char **argv)
{
    return t_run("test_large", tests, sizeof tests / sizeof *tests, argc, argv);
}
