/* White-box test of the page heap (core/hakmem_page_heap.c), linked with
 * libhakmem_api.a and calling hak_pageheap_* directly.  One process, the
 * subtests in order (each relies on the heap the previous ones left):
 *   split_fit    blocks are carved one after another from a region; a request
 *                takes the smallest free range that holds it (best fit) and
 *                the rest of that range stays free for the next one
 *   join         a freed block joins its free neighbours on both sides, so a
 *                request as big as all three fits at the first one's address
 *   bad          an interior pointer, a page heap address with no block, and
 *                a second free of a block are refused (0), without the block
 *                changing
 *   decay        a freed range stays resident before the decay, is purged
 *                (not resident, reads as zeros when taken again) after it
 *   move_out     a block moved into a mapping of its own keeps its contents,
 *                and the range it left is free again (the next request of
 *                that size gets it, zeroed)
 *   unmap        once everything is free, a purge of everything unmaps every
 *                region (mapped bytes 0)
 *   bound        200 blocks of 1 MiB add few mappings (regions grow), not one
 *                each; all freed, a purge gives every page back
 *   ghost        blocks that find no resident range while ranges the bound
 *                purged within the hold time would have served them are
 *                counted as ghost hits (the decay's purges are not)
 * Run as: test_page_heap [name-substring] (it runs itself again with
 * HAKMEM_LARGE_DECAY_MS=100)
 */
#define HAK_API_MODE 1
#include "common.h"
#include "hakmem_page_heap.h"
#include <sys/mman.h>
#include <time.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned char *ph_alloc(size_t n, int zero)
{
    unsigned char *p = hak_pageheap_alloc(n, 0, zero);
    CHECKF(p != NULL, "page heap alloc of %zu failed", n);
    if (!p)
        exit(1);
    return p;
}

static size_t ph_free(void *p) { return hak_pageheap_free(hak_span_of((uintptr_t)p), p); }
static size_t ph_usable(void *p) { return hak_pageheap_usable(hak_span_of((uintptr_t)p), p); }

/* resident pages of [p, p + n) */
static size_t resident(const void *p, size_t n)
{
    unsigned char v[4096];
    size_t pages = n / 4096, in = 0;
    if (pages > sizeof v || mincore((void *)p, n, v))
        return (size_t)-1;
    for (size_t i = 0; i < pages; i++)
        in += v[i] & 1;
    return in;
}

static unsigned char *a, *b, *c, *d, *e, *g;

static void test_split_fit(void)
{
    a = ph_alloc(256 * KiB, 0);
    b = ph_alloc(128 * KiB, 0);
    c = ph_alloc(512 * KiB, 0);
    d = ph_alloc(64 * KiB, 0);
    e = ph_alloc(384 * KiB, 0);
    g = ph_alloc(64 * KiB, 0);
    CHECKF(b == a + 256 * KiB && c == b + 128 * KiB && d == c + 512 * KiB && e == d + 64 * KiB &&
           g == e + 384 * KiB, "blocks not carved one after another");
    memset(a, 1, 256 * KiB);
    memset(c, 3, 512 * KiB);
    memset(e, 5, 384 * KiB);
    CHECK(ph_free(a) == 256 * KiB && ph_free(c) == 512 * KiB && ph_free(e) == 384 * KiB);
    /* holes of 256, 512 and 384 KiB and the region's tail: 304 KiB fits 384 best */
    unsigned char *x = ph_alloc(304 * KiB, 0);
    CHECKF(x == e, "304 KiB went to %p, not the 384 KiB hole %p", (void *)x, (void *)e);
    /* the hole's other 80 KiB is the best fit for 64 KiB now */
    unsigned char *y = ph_alloc(64 * KiB, 0);
    CHECKF(y == e + 304 * KiB, "64 KiB went to %p, not the rest of the split hole %p", (void *)y,
           (void *)(e + 304 * KiB));
    CHECK(ph_usable(x) == 304 * KiB && ph_usable(y) == 64 * KiB);
    ph_free(x);
    ph_free(y);
}

static void test_join(void)
{
    /* free b, between the free a and c: one range of 896 KiB at a */
    CHECK(ph_free(b) == 128 * KiB);
    unsigned char *x = ph_alloc(896 * KiB, 0);
    CHECKF(x == a, "896 KiB at %p, not at the joined range %p", (void *)x, (void *)a);
    CHECK(ph_usable(x) == 896 * KiB);
    memset(x, 7, 896 * KiB);
    a = x;
}

static void test_bad(void)
{
    CHECK(ph_usable(a + 4096) == 0);
    CHECK(ph_free(a + 4096) == 0);
    CHECK(ph_free(a + 100) == 0);
    CHECK(ph_free(g + 64 * KiB + 8 * 4096) == 0);   /* inside the free tail */
    CHECK(ph_usable(a) == 896 * KiB);
    CHECK(a[0] == 7 && a[896 * KiB - 1] == 7);
    CHECK(ph_free(d) == 64 * KiB);
    CHECK(ph_free(d) == 0);                          /* a double free */
    CHECK(ph_free(a) == 896 * KiB);
    CHECK(ph_free(g) == 64 * KiB);
}

static void test_decay(void)
{
    unsigned char *p = ph_alloc(1 * MiB, 0);
    memset(p, 9, 1 * MiB);
    ph_free(p);
    CHECKF(hak_pageheap_purge(now_ns(), 0) < 256, "a range freed just now was purged");
    CHECKF(resident(p, 1 * MiB) == 256, "a freed range is not resident before the decay (%zu pages)",
           resident(p, 1 * MiB));
    struct timespec ts = { 0, 150000000L };
    nanosleep(&ts, NULL);
    size_t pages = hak_pageheap_purge(now_ns(), 0);
    CHECKF(pages >= 256, "after the decay %zu pages purged, not the 256 freed", pages);
    CHECKF(resident(p, 1 * MiB) == 0, "%zu pages still resident after the purge", resident(p, 1 * MiB));
    uint64_t reused = hak_global_counters.pages_reused_heap;
    unsigned char *q = ph_alloc(1 * MiB, 0);
    /* handed out again right after its purge: within the hold time */
    CHECKF(hak_global_counters.pages_reused_heap - reused == 256, "%llu pages counted reused, not 256",
           (unsigned long long)(hak_global_counters.pages_reused_heap - reused));
    size_t nz = 0;
    for (size_t i = 0; i < 1 * MiB; i++)
        nz += q[i] != 0;
    CHECKF(nz == 0, "a purged range read %zu non-zero bytes", nz);
    CHECKF(hak_global_counters.large_ghost_hits == 0, "the decay purged it: %llu ghost hits counted, not 0",
           (unsigned long long)hak_global_counters.large_ghost_hits);
    ph_free(q);
}

/* Ghost hits: with the bound at 1 MiB, four freed 1 MiB blocks leave three
 * purged by the bound (not the decay); three new 1 MiB blocks find one
 * resident range, then take purged ones: each of those is a ghost hit. */
static void test_ghost(void)
{
    unsigned char *p[4];
    hak_pageheap_set_bound(1 * MiB);
    for (int k = 0; k < 4; k++) {
        p[k] = ph_alloc(1 * MiB, 0);
        memset(p[k], 3, 1 * MiB);
    }
    for (int k = 0; k < 4; k++)
        ph_free(p[k]);
    uint64_t g0 = hak_global_counters.large_ghost_hits;
    size_t pages = hak_pageheap_purge(now_ns(), 0);
    CHECKF(pages >= 3 * 256, "the bound purged %zu pages, not the 768 over it", pages);
    for (int k = 0; k < 3; k++)
        p[k] = ph_alloc(1 * MiB, 0);
    uint64_t hits = hak_global_counters.large_ghost_hits - g0;
    CHECKF(hits >= 2 && hits <= 3, "%llu ghost hits counted for 3 blocks, 2 or 3 from purged ranges",
           (unsigned long long)hits);
    for (int k = 0; k < 3; k++)
        ph_free(p[k]);
    hak_pageheap_set_bound(UINT64_MAX);
}

static void test_move_out(void)
{
    unsigned char *p = ph_alloc(1 * MiB, 0);
    t_fill_pos(p, 1 * MiB, 11);
    unsigned char *q = hak_pageheap_move_out(hak_span_of((uintptr_t)p), p, 3 * MiB, 0);
    CHECK(q != NULL && q != p);
    if (!q)
        return;
    CHECK(t_check_pos(q, 1 * MiB, 11) == (size_t)-1);
    CHECK(hak_span_of((uintptr_t)q) == HAK_SPAN_INVALID || !hak_pageheap_owns(hak_span_of((uintptr_t)q)));
    memset(q + 1 * MiB, 1, 2 * MiB);
    unsigned char *r = ph_alloc(1 * MiB, 1);
    CHECKF(r == p, "the range the block left (%p) was not reused (%p)", (void *)p, (void *)r);
    size_t nz = 0;
    for (size_t i = 0; i < 1 * MiB; i++)
        nz += r[i] != 0;
    CHECKF(nz == 0, "the refilled range read %zu non-zero bytes", nz);
    ph_free(r);
    munmap(q, 3 * MiB);
}

static void test_unmap(void)
{
    CHECK(hak_pageheap_mapped_bytes > 0);
    hak_pageheap_purge(now_ns(), 1);
    CHECKF(hak_pageheap_mapped_bytes == 0, "%llu bytes of regions still mapped",
           (unsigned long long)hak_pageheap_mapped_bytes);
    CHECK(hak_pageheap_free_bytes() == 0);
}

static void test_bound(void)
{
    enum { K = 200 };
    static unsigned char *v[K];
    int before = t_maps_lines();
    for (int k = 0; k < K; k++) {
        v[k] = ph_alloc(1 * MiB, 0);
        v[k][0] = (unsigned char)k;
    }
    int grown = t_maps_lines() - before;
    CHECKF(grown <= 32, "200 blocks of 1 MiB added %d mappings", grown);
    for (int k = 0; k < K; k++) {
        CHECK(v[k][0] == (unsigned char)k);
        CHECK(ph_free(v[k]) == 1 * MiB);
    }
    size_t pages = hak_pageheap_purge(now_ns(), 1);
    CHECKF(pages >= K * 256, "a purge of everything gave back %zu pages of %d", pages, K * 256);
    CHECK(hak_pageheap_mapped_bytes == 0);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        { "split_fit", test_split_fit }, { "join", test_join }, { "bad", test_bad },
        { "decay", test_decay }, { "move_out", test_move_out }, { "unmap", test_unmap },
        { "bound", test_bound }, { "ghost", test_ghost },
    };
    const char *d = getenv("HAKMEM_LARGE_DECAY_MS");
    if (!d || strcmp(d, "100")) {   /* the options are read before main: run again with it */
        setenv("HAKMEM_LARGE_DECAY_MS", "100", 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    return t_run("test_page_heap", tests, sizeof tests / sizeof *tests, argc, argv);
}
