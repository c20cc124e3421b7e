/* White-box unit tests of the core's data structures, called directly (no
 * malloc in between): core/hakmem_size_class.{h,c}, the page map and span
 * descriptors of core/hakmem_segment.{h,c}, the bitmaps, page release and
 * span lists of core/hakmem_span.c.
 *   size_class    the class table is the documented rule (16-byte steps to
 *                 128 B, then four per power of two up to HAK_MID_MAX); every
 *                 size 1..HAK_MID_MAX gets the smallest class holding it; the
 *                 Tiny lookup table agrees
 *   pagemap       every 64 KiB page of a span maps to it, the segment header
 *                 page, the segment's neighbours and memory hakmem does not own
 *                 map to HAK_SPAN_INVALID; NULL-page and non-canonical pointers
 *                 fail the block test; a freed span's pages map to
 *                 HAK_SPAN_INVALID; hak_pagemap_set_range over a 4 GiB
 *                 boundary and back
 *   span_blocks   for every class: pages, capacity, a fresh bitmap, limit 0
 *                 and no block before the first take; with half the blocks
 *                 taken limit is their end and hak_span_is_block is true
 *                 exactly at the block starts below it (every offset); a
 *                 return and a take again keep it; hak_span_index of each
 *                 block start is its number; take hands out every block
 *                 once, in address order, and limit ends at the last one's end
 *   span_lists    a span's list (AVAIL, SPARSE, FULL) at each documented
 *                 threshold as blocks are taken and returned, pick prefers
 *                 dense spans, a double return is reported, empty spans are
 *                 counted, freed at once at the waiting limit (not while
 *                 queued) and by the second maintenance pass beyond the reserve
 *   page_release  an OS page with no used block is released (not resident,
 *                 counted, marked) and made resident again by a take; a page
 *                 under a used block never is, also when blocks straddle OS
 *                 pages; release on return (an aged span, its list shrinking)
 *                 and by maintenance passes
 *   batches       core/hakmem_tcache.h's magazine <-> depot helpers on a
 *                 static heap and fake blocks: link order and NULL end, the
 *                 oldest blocks leave a magazine and the rest move down, a
 *                 batch goes back with its last block on top, a depot's
 *                 bounds and counts, takes newest first up to `want` and
 *                 `room` (an oversize batch cut), `took` counted by
 *                 hak_depot_take_into only
 * Built linked with libhakmem_api.a and from the core sources with
 * -fsanitize=address,undefined (clang and gcc); see tests/Makefile.
 * Run as: test_core_units [name-substring].  pagemap needs a fresh process (it
 * checks the neighbours of the only segment), so it comes first.
 */
#define HAK_API_MODE 1
#include "common.h"
#include "hakmem_segment.h"
#include "hakmem_options.h"
#include "hakmem_tcache.h"
#include <sys/mman.h>

#define INVALID HAK_SPAN_INVALID

static hak_counters_t cnt;   /* this test's own counters: plain adds, read back */
static void *blk[HAK_SPAN_MAX_BLOCKS];

static hak_span_t *span_new(int cls)
{
    hak_span_t *sp = hak_span_alloc(cls, &cnt);
    if (!sp)
        DIE("hak_span_alloc(%d) failed", cls);
    return sp;
}

static void *block(const hak_span_t *sp, uint32_t i) { return (void *)(sp->start + (uintptr_t)i * sp->bsize); }

/* bit i: OS page i of [p, p + pages * 4 KiB) is resident */
static uint64_t resident(uintptr_t p, uint32_t pages)
{
    unsigned char v[64];
    uint64_t m = 0;
    if (pages > 64 || mincore((void *)p, (size_t)pages * HAK_OS_PAGE, v))
        DIE("mincore: %s", strerror(errno));
    for (uint32_t i = 0; i < pages; i++)
        m |= (uint64_t)(v[i] & 1) << i;
    return m;
}

/* ---- size classes ---- */

/* The rule hakmem_size_class.h states, written out independently. */
static uint32_t class_size_rule(int c)
{
    if (c < 8)
        return 16u * (uint32_t)(c + 1);
    uint32_t pow = 128u << ((c - 8) / 4);
    return pow + pow / 4 * (uint32_t)((c - 8) % 4 + 1);
}

static void test_size_class(void)
{
    for (int c = 0; c < HAK_NCLASS; c++) {
        uint32_t s = hak_class_size[c];
        CHECKF(s == class_size_rule(c), "class %d is %u bytes, want %u", c, s, class_size_rule(c));
        CHECKF(s % 16 == 0, "class %d: %u not a multiple of 16", c, s);
        CHECKF(c == 0 || s > hak_class_size[c - 1], "class %d (%u) not above class %d", c, s, c - 1);
        CHECKF(hak_is_tiny_class(c) == (s <= HAK_TINY_MAX), "class %d (%u bytes): tiny %d", c, s,
               hak_is_tiny_class(c));
    }
    CHECK(hak_class_size[HAK_NCLASS - 1] == HAK_MID_MAX);
    CHECK(hak_size_class(HAK_MID_MAX) == HAK_NCLASS - 1);
    CHECK(hak_size_class(HAK_TINY_MAX) == HAK_TINY_CLASSES - 1 && hak_size_class(HAK_TINY_MAX + 1) == HAK_TINY_CLASSES);

    /* every size, against a walk up the table */
    uint32_t wrong = 0, first = 0;
    int c = 0;
    for (uint32_t n = 1; n <= HAK_MID_MAX; n++) {
        while (hak_class_size[c] < n)
            c++;
        if (hak_size_class(n) != c && !wrong++)
            first = n;
    }
    CHECKF(wrong == 0, "%u sizes in the wrong class, the first %u in class %d", wrong, first,
           hak_size_class(first));

    /* the Tiny table, index (n + 15) / 16: the smallest class holding 16 * index */
    for (uint32_t i = 0; i <= HAK_TINY_MAX / 16; i++) {
        int want = 0;
        while (hak_class_size[want] < 16 * i)
            want++;
        CHECKF(hak_tiny_class_of[i] == want, "hak_tiny_class_of[%u] = %d, want %d", i, hak_tiny_class_of[i], want);
    }
}

/* ---- page map ---- */

static void count_desc(hak_span_t *sp, void *arg) { ++*(int *)arg; }

/* a 4 GiB-aligned address whose 4 GiB below and above have no leaf yet */
static uintptr_t unmapped_4g_boundary(void)
{
    for (uintptr_t k = 0x100; k < 0x7fff; k++)
        if (!hak_pagemap_top[k - 1] && !hak_pagemap_top[k])
            return k << 32;
    DIE("no two neighbouring 4 GiB ranges without a page map leaf");
}

static void test_pagemap(void)
{
    int mid = hak_size_class(64 * 1024);
    hak_span_t *a = span_new(hak_size_class(128)), *b = span_new(mid);
    uintptr_t seg = a->start & ~(HAK_SEG_SIZE - 1);
    int descs = 0;
    hak_segments_foreach_desc(count_desc, &descs);
    CHECKF(descs == HAK_SEG_PAGES - 1, "%d span descriptors: more than one segment (not a fresh process?)", descs);
    /* first fit in a new segment: page 0 is the header, a at page 1, b after it */
    CHECKF(a->start == seg + HAK_PAGE_SIZE && b->start == seg + 2 * HAK_PAGE_SIZE && b->pages == 16,
           "a at page %lu, b at page %lu with %u pages", (unsigned long)((a->start - seg) >> HAK_PAGE_SHIFT),
           (unsigned long)((b->start - seg) >> HAK_PAGE_SHIFT), b->pages);
    hak_segment_t *hdr = (hak_segment_t *)seg;
    CHECK(a == &hdr->spans[1] && b == &hdr->spans[2]);

    for (uint32_t i = 0; i < b->pages; i++) {
        uintptr_t p = b->start + i * HAK_PAGE_SIZE;
        CHECKF(hak_span_of(p) == b && hak_span_of(p + HAK_PAGE_SIZE - 1) == b, "page %u of b maps to %p", i,
               (void *)hak_span_of(p));
    }
    CHECK(hak_span_of(a->start) == a && hak_span_of(a->start + HAK_PAGE_SIZE - 1) == a);
    CHECK(hak_span_of(seg) == INVALID && hak_span_of(seg + HAK_PAGE_SIZE - 1) == INVALID);
    CHECK(hak_span_of(b->start + b->pages * HAK_PAGE_SIZE) == INVALID);
    CHECK(hak_span_of(seg + HAK_SEG_SIZE - 1) == INVALID);
    CHECK(hak_span_of(seg - 1) == INVALID && hak_span_of(seg + HAK_SEG_SIZE) == INVALID);
    int local;
    char *g = malloc(100);   /* glibc's */
    CHECK(hak_span_of((uintptr_t)&local) == INVALID && hak_span_of((uintptr_t)&cnt) == INVALID &&
          hak_span_of((uintptr_t)g) == INVALID);
    free(g);

    /* the invalid span: limit 0, so nothing is a block of it */
    CHECK(INVALID->limit == 0 && !hak_span_is_block(INVALID, 0) && !hak_span_is_block(INVALID, a->start));
    static const uintptr_t null_page[] = { 0, 8, 4095, 65535 };
    for (size_t i = 0; i < sizeof null_page / sizeof *null_page; i++)
        CHECKF(!hak_span_is_block(hak_span_of(null_page[i]), null_page[i]), "%#lx is a block",
               (unsigned long)null_page[i]);
    /* bits 48.. are masked off the top index: such a pointer reads a's entry,
     * and the block test fails on the huge offset */
    for (int bit = 48; bit < 64; bit++) {
        uintptr_t x = a->start | 1ull << bit;
        CHECKF(hak_span_of(x) == a && !hak_span_is_block(a, x), "bit %d: span %p, block %d", bit,
               (void *)hak_span_of(x), hak_span_is_block(hak_span_of(x), x));
    }
    CHECK(!hak_span_is_block(hak_span_of(a->start ^ 1ull << 47), a->start ^ 1ull << 47));
    /* a block start is a block once it has been handed out */
    CHECK(!hak_span_is_block(a, a->start));
    hak_span_lists_t la = { 0 };
    void *first;
    hak_spans_insert(&la, a);
    CHECK(hak_spans_take(&la, a, &first, 1) == 1 && first == (void *)a->start);
    CHECK(hak_span_is_block(a, a->start) && !hak_span_is_block(a, a->start + a->bsize));

    hak_span_free(a, &cnt);
    CHECK(a->limit == 0 && !hak_span_is_block(a, a->start));
    CHECK(hak_span_of(a->start) == INVALID && hak_span_of(b->start) == b);
    hak_span_free(b, &cnt);
    for (uint32_t i = 0; i < 16; i++)
        CHECKF(hak_span_of(b->start + i * HAK_PAGE_SIZE) == INVALID, "page %u of the freed b still mapped", i);

    /* a range over a 4 GiB boundary: both leaves are mapped on first use */
    static hak_span_t region;   /* limit 0, as a page heap region's descriptor */
    uintptr_t x = unmapped_4g_boundary(), lo = x - 2 * HAK_PAGE_SIZE;
    CHECK(hak_pagemap_set_range(lo, 4 * HAK_PAGE_SIZE, &region) == 1);
    CHECK(hak_pagemap_top[(x >> 32) - 1] && hak_pagemap_top[x >> 32]);
    for (uintptr_t p = lo; p < x + 2 * HAK_PAGE_SIZE; p += HAK_PAGE_SIZE / 2)
        CHECKF(hak_span_of(p) == &region, "%#lx maps to %p", (unsigned long)p, (void *)hak_span_of(p));
    CHECK(hak_span_of(lo - 1) == INVALID && hak_span_of(x + 2 * HAK_PAGE_SIZE) == INVALID);
    CHECK(!hak_span_is_block(hak_span_of(x), x));
    CHECK(hak_pagemap_set_range(lo, 4 * HAK_PAGE_SIZE, INVALID) == 1);
    for (uintptr_t p = lo; p < x + 2 * HAK_PAGE_SIZE; p += HAK_PAGE_SIZE / 2)
        CHECKF(hak_span_of(p) == INVALID, "%#lx still maps to %p", (unsigned long)p, (void *)hak_span_of(p));
}

/* ---- a span's blocks ---- */

static void check_span_blocks(int c)
{
    uint64_t bytes0 = hak_bytes_spans, blocks0 = hak_class_blocks[c];
    hak_span_t *sp = span_new(c);
    uint32_t b = hak_class_size[c], pages = sp->pages;
    /* Tiny: one page; Mid: the fewest pages that hold 16 blocks, at most HAK_SPAN_MAX_PAGES */
    if (hak_is_tiny_class(c))
        CHECKF(pages == 1, "class %d: %u pages", c, pages);
    else
        CHECKF(pages <= HAK_SPAN_MAX_PAGES && (pages * HAK_PAGE_SIZE >= 16ull * b || pages == HAK_SPAN_MAX_PAGES) &&
               (pages == 1 || (pages - 1) * HAK_PAGE_SIZE < 16ull * b), "class %d (%u bytes): %u pages", c, b, pages);
    uint32_t cap = (uint32_t)(pages * HAK_PAGE_SIZE / b);
    if (cap > HAK_SPAN_MAX_BLOCKS)
        cap = HAK_SPAN_MAX_BLOCKS;
    CHECKF(sp->bsize == b && sp->cls == c && sp->capacity == cap && sp->limit == 0 &&
           sp->used == 0 && sp->nreleased == 0 && sp->owner_mask == (hak_is_tiny_class(c) ? ~(uintptr_t)0 : 0),
           "class %d: bsize %u capacity %u limit %lu used %u", c, sp->bsize, sp->capacity,
           (unsigned long)sp->limit, sp->used);
    CHECK(hak_bytes_spans - bytes0 == pages * HAK_PAGE_SIZE && hak_class_blocks[c] - blocks0 == cap);
    /* the bitmap's words past the capacity are never read (nor cleared) */
    uint32_t words = (cap + 63) / 64;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t want = w < cap / 64 ? ~0ull : (1ull << cap % 64) - 1;
        CHECKF(sp->freemap[w] == want, "class %d: fresh bitmap word %u is %#lx", c, w, (unsigned long)sp->freemap[w]);
    }

    /* no block was handed out yet: none is a block */
    CHECK(!hak_span_is_block(sp, sp->start) && !hak_span_is_block(sp, (uintptr_t)block(sp, cap - 1)));
    /* the first half handed out: limit is its end (a high-water mark); every
     * offset of the span's pages and of the page after them is a block
     * exactly at the block starts below it */
    hak_span_lists_t l = { 0 };
    hak_spans_insert(&l, sp);
    uint32_t half = (cap + 1) / 2, got = hak_spans_take(&l, sp, blk, half);
    CHECKF(got == half && sp->limit == (uint64_t)half * b, "class %d: took %u of %u, limit %lu", c, got, half,
           (unsigned long)sp->limit);
    uint64_t wrong = 0, first = 0;
    for (uint64_t off = 0, next = 0; off < (pages + 1ull) * HAK_PAGE_SIZE; off++) {
        int want = off == next && off < (uint64_t)half * b;
        next += off == next ? b : 0;
        if (hak_span_is_block(sp, sp->start + off) != want && !wrong++)
            first = off;
    }
    CHECKF(wrong == 0, "class %d: hak_span_is_block wrong at %lu offsets, the first %lu", c, (unsigned long)wrong,
           (unsigned long)first);
    CHECK(!hak_span_is_block(sp, sp->start - 1) && !hak_span_is_block(sp, sp->start - b) && !hak_span_is_block(sp, 0));
    uint32_t bad = 0;
    while (bad < cap && hak_span_index(sp, (uintptr_t)block(sp, bad)) == bad)
        bad++;
    CHECKF(bad == cap, "class %d: block %u has index %u", c, bad, hak_span_index(sp, (uintptr_t)block(sp, bad)));

    /* a block returned and taken again does not move the mark; the rest taken
     * raises it to the last block's end */
    if (half > 1) {
        CHECK(hak_spans_return(&l, sp, blk, 1, 0, &cnt) == NULL && sp->limit == (uint64_t)half * b);
        CHECK(hak_spans_take(&l, sp, blk, 1) == 1 && blk[0] == block(sp, 0) && sp->limit == (uint64_t)half * b);
    }
    got += hak_spans_take(&l, sp, blk + half, HAK_SPAN_MAX_BLOCKS);
    CHECKF(got == cap && sp->used == cap && sp->list == HAK_LIST_FULL && sp->limit == (uint64_t)cap * b,
           "class %d: took %u of %u, list %d, limit %lu", c, got, cap, sp->list, (unsigned long)sp->limit);
    CHECK(hak_span_is_block(sp, (uintptr_t)block(sp, cap - 1)));
    for (bad = 0; bad < got && blk[bad] == block(sp, bad);)
        bad++;
    CHECKF(bad == got, "class %d: take %u gave %p, not block %u", c, bad, blk[bad], bad);
    for (uint32_t w = 0; w < words; w++)
        CHECKF(sp->freemap[w] == 0, "class %d: word %u of a full span is %#lx", c, w, (unsigned long)sp->freemap[w]);
    CHECK(hak_spans_return(&l, sp, blk, got, 0, &cnt) == NULL && sp->used == 0 && sp->limit == (uint64_t)cap * b);
    hak_spans_remove(&l, sp);
    hak_span_free(sp, &cnt);
    CHECK(hak_bytes_spans == bytes0 && hak_class_blocks[c] == blocks0);
}

static void test_span_blocks(void)
{
    for (int c = 0; c < HAK_NCLASS; c++)
        check_span_blocks(c);
}

/* ---- span lists ---- */

/* The list sp is on (-1: none), after checking every list's links. */
static int list_of(const hak_span_lists_t *l, const hak_span_t *sp)
{
    int found = -1;
    for (int k = HAK_LIST_AVAIL; k <= HAK_LIST_FULL; k++) {
        const hak_span_t *prev = NULL;
        for (const hak_span_t *s = l->head[k]; s; prev = s, s = s->next) {
            CHECKF(s->prev == prev && s->list == k, "list %d broken at %p", k, (const void *)s);
            if (s == sp) {
                CHECKF(found < 0, "span %p on lists %d and %d", (const void *)sp, found, k);
                found = k;
            }
        }
        CHECKF(l->tail[k] == prev, "list %d: tail %p, last %p", k, (void *)l->tail[k], (const void *)prev);
    }
    return found;
}

#define ON_LIST(l, sp, want, want_used) do { int k_ = list_of(l, sp); \
        CHECKF(k_ == (want) && (sp)->used == (want_used), "on list %d with %u used, want list %d with %u used", \
               k_, (sp)->used, (int)(want), (unsigned)(want_used)); } while (0)

static uint32_t take(hak_span_lists_t *l, hak_span_t *sp, uint32_t n)
{
    return hak_spans_take(l, sp, blk + sp->used, n);
}

static void *give(hak_span_lists_t *l, hak_span_t *sp, uint32_t first, uint32_t n)
{
    return hak_spans_return(l, sp, blk + first, n, 0, &cnt);
}

/* 512 blocks of 128 B: SPARSE up to 256 used, and up to 384 while taking;
 * FULL at 512; back to SPARSE at 256 while returning */
static void lists_thresholds(void)
{
    hak_span_lists_t l = { 0 };
    hak_span_t *a = span_new(hak_size_class(128)), *b = span_new(hak_size_class(128));
    CHECK(a->capacity == 512);
    hak_spans_insert(&l, a);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 0);
    CHECK(l.nempty == 1 && hak_spans_pick(&l) == a);
    CHECK(take(&l, a, 256) == 256 && l.nempty == 0 && l.taken == 256);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 256);
    CHECK(take(&l, a, 128) == 128);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 384);
    CHECK(take(&l, a, 1) == 1);
    ON_LIST(&l, a, HAK_LIST_AVAIL, 385);
    hak_spans_insert(&l, b);
    ON_LIST(&l, b, HAK_LIST_SPARSE, 0);
    CHECK(l.nempty == 1 && hak_spans_pick(&l) == a);   /* dense first */
    CHECK(take(&l, a, 200) == 127);
    ON_LIST(&l, a, HAK_LIST_FULL, 512);
    CHECK(hak_spans_pick(&l) == b);

    CHECK(give(&l, a, 0, 1) == NULL && l.returned == 1);
    ON_LIST(&l, a, HAK_LIST_AVAIL, 511);
    CHECKF(give(&l, a, 0, 1) == blk[0], "a double return not reported");
    ON_LIST(&l, a, HAK_LIST_AVAIL, 511);
    /* a double in a batch: the blocks before it are returned, it is reported */
    void *pair[2] = { blk[1], blk[1] };
    CHECK(hak_spans_return(&l, a, pair, 2, 0, &cnt) == blk[1]);
    ON_LIST(&l, a, HAK_LIST_AVAIL, 510);
    CHECK(give(&l, a, 2, 253) == NULL);
    ON_LIST(&l, a, HAK_LIST_AVAIL, 257);
    CHECK(give(&l, a, 255, 1) == NULL);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 256);
    CHECK(give(&l, a, 256, 255) == NULL && l.nempty == 1);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 1);
    CHECK(give(&l, a, 511, 1) == NULL && l.nempty == 2);
    ON_LIST(&l, a, HAK_LIST_SPARSE, 0);
    CHECK(a->freemap[0] == ~0ull && a->freemap[7] == ~0ull);

    hak_span_t *both[] = { a, b };
    for (int i = 0; i < 2; i++) {
        hak_spans_remove(&l, both[i]);
        CHECK(list_of(&l, both[i]) == -1 && both[i]->list == HAK_LIST_NONE);
        hak_span_free(both[i], &cnt);
    }
    CHECK(l.nempty == 0);
}

/* Empty spans: up to reserve + HAK_EMPTY_WAITING wait, one more is freed at
 * once unless it is queued; maintenance frees the aged ones beyond the reserve. */
static void lists_empty(void)
{
    enum { W = HAK_EMPTY_WAITING, N = W + 2 };   /* s[W] empties at the limit, s[W + 1] too but queued */
    hak_span_lists_t l = { 0 };
    hak_span_t *s[N];
    void *one[N];
    for (int i = 0; i < N; i++) {
        s[i] = span_new(hak_size_class(128));
        hak_spans_insert(&l, s[i]);
        CHECK(hak_spans_take(&l, s[i], &one[i], 1) == 1);
    }
    CHECK(l.nempty == 0);
    for (int i = 0; i < W; i++)
        CHECK(hak_spans_return(&l, s[i], &one[i], 1, 0, &cnt) == NULL && l.nempty == (uint32_t)i + 1);
    CHECK(hak_spans_return(&l, s[W], &one[W], 1, 0, &cnt) == NULL && l.nempty == W);
    CHECKF(list_of(&l, s[W]) == -1 && s[W]->limit == 0 && hak_span_of(s[W]->start) == INVALID,
           "the span emptied at the limit is kept (list %d, limit %lu)", s[W]->list, (unsigned long)s[W]->limit);
    s[W + 1]->queued = 1;   /* on an inbox */
    CHECK(hak_spans_return(&l, s[W + 1], &one[W + 1], 1, 0, &cnt) == NULL && l.nempty == W + 1);
    ON_LIST(&l, s[W + 1], HAK_LIST_SPARSE, 0);
    s[W + 1]->queued = 0;

    l.reserve = 1;
    CHECK(hak_spans_maintain(&l, 0, UINT64_MAX, &cnt) == 1 && l.nempty == W + 1);   /* ages them */
    CHECK(hak_spans_maintain(&l, 0, UINT64_MAX, &cnt) == 1 && l.nempty == 1);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        int on = i == W ? -1 : list_of(&l, s[i]);
        CHECKF(on == -1 ? s[i]->limit == 0 && hak_span_of(s[i]->start) == INVALID : on == HAK_LIST_SPARSE,
               "span %d: list %d, limit %lu", i, on, (unsigned long)s[i]->limit);
        kept += on != -1;
        if (on != -1) {
            hak_spans_remove(&l, s[i]);
            hak_span_free(s[i], &cnt);
        }
    }
    CHECK(kept == 1 && l.nempty == 0);
}

static void test_span_lists(void)
{
    lists_thresholds();
    lists_empty();
}

/* ---- page release inside a span ---- */

#define ALL(n) ((n) == 64 ? ~0ull : (1ull << (n)) - 1)

/* OS page i of sp released (bit i of rel) and not resident; the others resident */
#define EXPECT_RELEASED(sp, rel) do { \
        uint32_t os_ = (sp)->pages * (uint32_t)(HAK_PAGE_SIZE / HAK_OS_PAGE); \
        uint64_t res_ = resident((sp)->start, os_); \
        CHECKF((sp)->released[0] == (rel) && (sp)->nreleased == (uint32_t)__builtin_popcountll(rel) && \
               res_ == (ALL(os_) & ~(uint64_t)(rel)), "released %#lx (%u), resident %#lx; want released %#lx", \
               (unsigned long)(sp)->released[0], (sp)->nreleased, (unsigned long)res_, (unsigned long)(rel)); \
    } while (0)

/* Release the free pages of sp (at most max); expect n released and these
 * OS pages released in all, the others resident. */
#define RELEASE(sp, max, n, rel) do { \
        uint64_t c0_ = cnt.pages_released_spans, b0_ = hak_bytes_released; \
        size_t got_ = hak_span_release_free_pages(sp, max, &cnt); \
        CHECKF(got_ == (n) && cnt.pages_released_spans - c0_ == (n) && hak_bytes_released - b0_ == (n) * HAK_OS_PAGE, \
               "released %zu pages (counted %lu), want %u", got_, (unsigned long)(cnt.pages_released_spans - c0_), \
               (unsigned)(n)); \
        EXPECT_RELEASED(sp, rel); \
    } while (0)

/* take every block of a new span and write all of it: every OS page resident */
static hak_span_t *full_span(hak_span_lists_t *l, int cls)
{
    hak_span_t *sp = span_new(cls);
    hak_spans_insert(l, sp);
    CHECK(take(l, sp, sp->capacity) == sp->capacity);
    for (uint32_t i = 0; i < sp->capacity; i++)
        memset(blk[i], 0x5a, sp->bsize);
    EXPECT_RELEASED(sp, 0);
    return sp;
}

static void done_span(hak_span_lists_t *l, hak_span_t *sp)
{
    uint64_t rel0 = hak_bytes_released, cnt0 = cnt.pages_released_spans;
    uint32_t nrel = sp->nreleased, os = sp->pages * (uint32_t)(HAK_PAGE_SIZE / HAK_OS_PAGE);
    hak_spans_remove(l, sp);
    hak_span_free(sp, &cnt);
    /* the pages still held are counted released now, those released before are not again */
    CHECK(rel0 - hak_bytes_released == nrel * HAK_OS_PAGE && cnt.pages_released_spans - cnt0 == os - nrel);
}

/* 128 B blocks: 32 to an OS page */
static void release_small(void)
{
    hak_span_lists_t l = { 0 };
    hak_span_t *sp = full_span(&l, hak_size_class(128));
    CHECK(give(&l, sp, 96, 32) == NULL);    /* OS page 3 */
    CHECK(give(&l, sp, 160, 31) == NULL);   /* OS page 5 but its last block */
    RELEASE(sp, 16, 1, 1u << 3);
    CHECK(sp->clean == 1);
    RELEASE(sp, 16, 0, 1u << 3);            /* released already */
    CHECK(give(&l, sp, 256, 128) == NULL);  /* OS pages 8..11 */
    RELEASE(sp, 2, 2, 1u << 3 | 3u << 8);
    CHECK(sp->clean == 0);                  /* stopped by the bound */
    RELEASE(sp, 16, 2, 1u << 3 | 15u << 8);
    CHECK(sp->clean == 1);
    /* a take hands out the lowest free block, block 96: page 3 is back */
    uint64_t rel0 = hak_bytes_released, reused0 = hak_global_counters.pages_reused_spans;
    CHECK(hak_spans_take(&l, sp, blk + 96, 1) == 1 && blk[96] == block(sp, 96));
    memset(blk[96], 1, sp->bsize);
    EXPECT_RELEASED(sp, 15u << 8);
    CHECK(rel0 - hak_bytes_released == HAK_OS_PAGE);
    CHECK(hak_global_counters.pages_reused_spans - reused0 == 1);   /* within the hold time of its release */
    CHECK(give(&l, sp, 0, 96) == NULL && give(&l, sp, 96, 1) == NULL && give(&l, sp, 128, 32) == NULL &&
          give(&l, sp, 191, 65) == NULL && give(&l, sp, 384, 128) == NULL && sp->used == 0);
    done_span(&l, sp);
}

/* 5120 B blocks straddle OS pages: page 2 ([8192, 12288)) lies in blocks 1
 * and 2, page 1 in blocks 0 and 1, page 3 in blocks 2 and 3 */
static void release_straddling(void)
{
    hak_span_lists_t l = { 0 };
    hak_span_t *sp = full_span(&l, hak_size_class(5120));
    CHECK(sp->bsize == 5120 && sp->pages == 2 && sp->capacity == 25);
    CHECK(give(&l, sp, 1, 1) == NULL);
    RELEASE(sp, 32, 0, 0);
    CHECK(give(&l, sp, 2, 1) == NULL);
    RELEASE(sp, 32, 1, 1u << 2);
    CHECK(give(&l, sp, 0, 1) == NULL);
    RELEASE(sp, 32, 2, 7u);
    CHECK(give(&l, sp, 3, 22) == NULL && sp->used == 0);
    done_span(&l, sp);
}

/* A span sparse since the last pass (aged) gives back the pages under the
 * blocks returned to it once more than HAK_DEF_SHRINK_MIN blocks came back than
 * were taken since that pass; a later pass releases up to `pages` of its free
 * pages. */
static void release_passes(void)
{
    hak_span_lists_t l = { 0 };
    hak_span_t *sp = full_span(&l, hak_size_class(128));
    CHECK(hak_spans_return(&l, sp, blk, 300, 1, &cnt) == NULL);
    ON_LIST(&l, sp, HAK_LIST_SPARSE, 212);
    EXPECT_RELEASED(sp, 0);                 /* more taken than returned */
    CHECK(hak_spans_maintain(&l, 16, UINT64_MAX, &cnt) == 1 && sp->aged == 1 && l.returned == 0);
    EXPECT_RELEASED(sp, 0);                 /* the first pass only ages it */
    CHECK(hak_spans_take(&l, sp, blk, 1) == 1 && blk[0] == block(sp, 0) && sp->aged == 0);
    CHECK(hak_spans_return(&l, sp, blk + 300, HAK_DEF_SHRINK_MIN + 2, 1, &cnt) == NULL);
    EXPECT_RELEASED(sp, 0);                 /* shrinking, but taken from since the pass */
    CHECK(hak_spans_maintain(&l, 0, UINT64_MAX, &cnt) == 1 && sp->aged == 1);
    CHECK(hak_spans_return(&l, sp, blk + 366, HAK_DEF_SHRINK_MIN, 1, &cnt) == NULL);
    EXPECT_RELEASED(sp, 0);                 /* returned == taken + HAK_DEF_SHRINK_MIN */
    CHECK(hak_spans_return(&l, sp, blk + 430, 18, 0, &cnt) == NULL);
    EXPECT_RELEASED(sp, 0);                 /* the caller's policy says no */
    CHECK(hak_spans_return(&l, sp, blk + 448, 1, 1, &cnt) == NULL);
    EXPECT_RELEASED(sp, 0);                 /* block 448's page 14 holds used blocks */
    CHECK(hak_spans_return(&l, sp, blk + 449, 31, 1, &cnt) == NULL);
    EXPECT_RELEASED(sp, 1u << 14);          /* the pages under those blocks, no others */
    CHECK(hak_spans_maintain(&l, 4, UINT64_MAX, &cnt) == 1 && sp->clean == 0);
    EXPECT_RELEASED(sp, 1u << 14 | 15u << 1);
    CHECK(hak_spans_maintain(&l, 64, UINT64_MAX, &cnt) == 1 && sp->clean == 1);
    EXPECT_RELEASED(sp, 0x7ffeu);           /* pages 0 and 15 hold used blocks */
    CHECK(give(&l, sp, 0, 1) == NULL && give(&l, sp, 480, 32) == NULL && sp->used == 0);
    done_span(&l, sp);
}

/* A span whose last block ends before its last OS page: with every block in
 * use nothing is given back (the tail was never touched) */
static void release_tail(void)
{
    int tails = 0;
    for (int c = 0; c < HAK_NCLASS; c++) {
        hak_span_lists_t l = { 0 };
        hak_span_t *sp = span_new(c);
        hak_spans_insert(&l, sp);
        CHECK(hak_spans_take(&l, sp, blk, sp->capacity) == sp->capacity);
        tails += (uint64_t)sp->capacity * sp->bsize + HAK_OS_PAGE <= (uint64_t)sp->pages * HAK_PAGE_SIZE;
        CHECKF(hak_span_release_free_pages(sp, UINT32_MAX, &cnt) == 0 && sp->nreleased == 0,
               "class %d: %u pages given back with every block in use", c, sp->nreleased);
        CHECK(give(&l, sp, 0, sp->capacity) == NULL && sp->used == 0);
        hak_spans_remove(&l, sp);
        hak_span_free(sp, &cnt);
    }
    CHECK(tails > 0);   /* the case exists */
}

static void test_page_release(void)
{
    release_small();
    release_straddling();
    release_passes();
    release_tail();
}

/* ---- batches: magazine <-> depot (core/hakmem_tcache.h) ---- */

#define NFAKE 256
#define FAKE_TAG 0x5eed0000u
static hak_heap_t bh;   /* zero, as heap_create finds a fresh mapping */
static uintptr_t fake[NFAKE][2] __attribute__((aligned(16)));   /* 16-byte blocks */
static void *fb(uint32_t i) { return fake[i]; }

/* base[c] and lim[c] as heap_create sets them (capacity HAK_MAG_MAX); every
 * fake block's word 1 tagged: the batch code may write word 0 only */
static void batch_setup(void)
{
    for (int c = 0; c < HAK_NCLASS; c++) {
        bh.base[c] = (uint32_t)c * HAK_MAG_MAX;
        hak_mag_set_count(&bh, c, 0);
        hak_mag_set_cap(&bh, c, HAK_MAG_MAX);
    }
    for (uint32_t i = 0; i < NFAKE; i++) {
        fake[i][0] = 0xdead;
        fake[i][1] = FAKE_TAG + i;
    }
}

static void batch_words1_kept(void)
{
    uint32_t i = 0;
    while (i < NFAKE && fake[i][1] == FAKE_TAG + i)
        i++;
    CHECKF(i == NFAKE, "word 1 of fake block %u written", i);
}

/* b holds exactly want[0..n), in that order, and its list ends in NULL */
static int chain_is(hak_batch_t b, void *const *want, uint32_t n)
{
    void *p = b.head;
    uint32_t i = 0;
    for (; p && i < n; p = *(void **)p, i++)
        if (p != want[i]) {
            fprintf(stderr, "  block %u of the list is %p, want %p\n", i, p, want[i]);
            return 0;
        }
    if (b.n != n || i != n || p) {
        fprintf(stderr, "  batch of %u (%u walked, then %p), want %u then NULL\n", b.n, i, p, n);
        return 0;
    }
    return 1;
}

/* fb(first), fb(first + 1), ... */
static void **fbs(void **out, uint32_t first, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = fb(first + i);
    return out;
}

static hak_batch_t batch_of(uint32_t first, uint32_t n)
{
    void *v[NFAKE];
    return hak_batch_link(fbs(v, first, n), n);
}

/* class c's magazine holds exactly want[0..n), oldest at the bottom */
static int mag_is(int c, void *const *want, uint32_t n)
{
    if (hak_mag_count(&bh, c) != n || bh.top[c] != bh.base[c] + n) {
        fprintf(stderr, "  magazine of %u (top %u, base %u), want %u\n", hak_mag_count(&bh, c), bh.top[c], bh.base[c], n);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        if (hak_mag_items(&bh, c)[i] != want[i]) {
            fprintf(stderr, "  slot %u holds %p, want %p\n", i, hak_mag_items(&bh, c)[i], want[i]);
            return 0;
        }
    return 1;
}

/* the slots next to class c's magazine are untouched (still NULL) */
static int neighbours_clear(int c)
{
    return bh.slots[bh.base[c] - 1] == NULL && bh.slots[bh.base[c] + HAK_MAG_MAX] == NULL;
}

static void mag_fill(int c, uint32_t first, uint32_t n)
{
    fbs(hak_mag_items(&bh, c), first, n);
    hak_mag_set_count(&bh, c, n);
}

static void batches_link(void)
{
    static const uint32_t order[] = { 7, 3, 9, 1, 5 };
    void *v[5];
    for (uint32_t i = 0; i < 5; i++)
        v[i] = fb(order[i]);
    hak_batch_t b = hak_batch_link(v, 5);
    CHECK(b.head == fb(7) && chain_is(b, v, 5));
    hak_batch_t one = hak_batch_link(v + 2, 1);   /* fb(9) had a link: now NULL */
    CHECK(one.head == fb(9) && fake[9][0] == 0 && chain_is(one, v + 2, 1));
}

static void batches_magazine(void)
{
    const int c = 5;
    void *w[NFAKE];
    mag_fill(c, 0, 10);
    hak_batch_t b = hak_mag_take_oldest(&bh, c, 4);
    CHECK(chain_is(b, fbs(w, 0, 4), 4));
    CHECK(mag_is(c, fbs(w, 4, 6), 6) && neighbours_clear(c));
    /* all of them */
    b = hak_mag_take_oldest(&bh, c, 6);
    CHECK(chain_is(b, fbs(w, 4, 6), 6) && mag_is(c, w, 0));

    /* a full magazine gives its older half (a flush); the newer half moves down */
    mag_fill(c, 100, HAK_MAG_MAX);
    b = hak_mag_take_oldest(&bh, c, HAK_MAG_MAX / 2);
    CHECK(chain_is(b, fbs(w, 100, HAK_MAG_MAX / 2), HAK_MAG_MAX / 2));
    CHECK(mag_is(c, fbs(w, 100 + HAK_MAG_MAX / 2, HAK_MAG_MAX / 2), HAK_MAG_MAX / 2) && neighbours_clear(c));

    /* put: appended in list order, the list's last block on top */
    mag_fill(c, 20, 2);
    hak_mag_put_batch(&bh, c, batch_of(30, 3));
    void *want[] = { fb(20), fb(21), fb(30), fb(31), fb(32) };
    CHECK(mag_is(c, want, 5) && bh.slots[bh.top[c] - 1] == fb(32) && neighbours_clear(c));
    /* a magazine's oldest half out and back: the same order */
    mag_fill(c, 40, 8);
    b = hak_mag_take_oldest(&bh, c, 5);
    CHECK(mag_is(c, fbs(w, 45, 3), 3));
    hak_mag_set_count(&bh, c, 0);
    hak_mag_put_batch(&bh, c, b);
    CHECK(mag_is(c, fbs(w, 40, 5), 5));
    /* up to the capacity exactly, next to a full neighbour */
    mag_fill(c + 1, 150, HAK_MAG_MAX);
    mag_fill(c, 60, HAK_MAG_MAX - 3);
    hak_mag_put_batch(&bh, c, batch_of(60 + HAK_MAG_MAX - 3, 3));
    CHECK(mag_is(c, fbs(w, 60, HAK_MAG_MAX), HAK_MAG_MAX) && bh.top[c] == bh.lim[c]);
    CHECK(mag_is(c + 1, fbs(w, 150, HAK_MAG_MAX), HAK_MAG_MAX));
    hak_mag_set_count(&bh, c + 1, 0);
}

#define DEPOT_IS(d, want_nb, want_blocks, want_took) \
    CHECKF((d)->nb == (want_nb) && (d)->blocks == (want_blocks) && (d)->took == (want_took), \
           "depot of %u batches, %u blocks, took %u; want %u, %u, %u", (d)->nb, (d)->blocks, (d)->took, \
           (unsigned)(want_nb), (unsigned)(want_blocks), (unsigned)(want_took))

static void batches_depot_put(void)
{
    hak_depot_t *d = &bh.depot[2];
    hak_batch_t a = batch_of(0, 3), b = batch_of(3, 8), c = batch_of(11, 7);
    CHECK(hak_depot_put(d, a, 10) == 1);
    DEPOT_IS(d, 1, 3, 0);
    CHECK(hak_depot_put(d, b, 10) == 0);   /* 11 > 10 */
    DEPOT_IS(d, 1, 3, 0);
    CHECK(hak_depot_put(d, c, 10) == 1);   /* 10: at the bound */
    DEPOT_IS(d, 2, 10, 0);
    CHECK(d->b[0].head == fb(0) && d->b[0].n == 3 && d->b[1].head == fb(11) && d->b[1].n == 7);
    CHECK(hak_depot_put(d, batch_of(20, 1), 10) == 0);
    DEPOT_IS(d, 2, 10, 0);

    /* HAK_DEPOT_MAX batches of one, whatever the block bound */
    d = &bh.depot[3];
    for (uint32_t i = 0; i < HAK_DEPOT_MAX; i++)
        CHECKF(hak_depot_put(d, batch_of(i, 1), UINT32_MAX) == 1, "batch %u refused", i);
    CHECK(hak_depot_put(d, batch_of(HAK_DEPOT_MAX, 1), UINT32_MAX) == 0);
    DEPOT_IS(d, HAK_DEPOT_MAX, HAK_DEPOT_MAX, 0);
    CHECK(d->b[HAK_DEPOT_MAX - 1].head == fb(HAK_DEPOT_MAX - 1));
}

/* a fresh depot holding batches of these sizes, the last newest, made of
 * consecutive fake blocks from fb(0) */
static hak_depot_t *depot_with(const uint32_t *sizes, uint32_t k)
{
    static hak_depot_t d;
    memset(&d, 0, sizeof d);
    for (uint32_t i = 0, first = 0; i < k; first += sizes[i++])
        CHECK(hak_depot_put(&d, batch_of(first, sizes[i]), UINT32_MAX));
    return &d;
}

static void batches_depot_take(void)
{
    static const uint32_t sz[] = { 3, 4, 2 };   /* fb 0..2, 3..6, 7..8 */
    hak_batch_t out[HAK_DEPOT_MAX];
    void *w[NFAKE];

    /* newest first, whole batches until `want` is reached or passed */
    hak_depot_t *d = depot_with(sz, 3);
    CHECK(hak_depot_take_into(d, out, 5, 100) == 2);
    CHECK(chain_is(out[0], fbs(w, 7, 2), 2) && chain_is(out[1], fbs(w, 3, 4), 4));
    DEPOT_IS(d, 1, 3, 6);
    CHECK(d->b[0].head == fb(0) && d->b[0].n == 3);
    CHECK(hak_depot_take_into(d, out, 1, 100) == 1 && chain_is(out[0], fbs(w, 0, 3), 3));
    DEPOT_IS(d, 0, 0, 9);   /* took adds up */
    CHECK(hak_depot_take_into(d, out, 100, 100) == 0);
    DEPOT_IS(d, 0, 0, 9);

    /* room: no batch that would pass it, once one is taken */
    d = depot_with(sz, 3);
    CHECK(hak_depot_take_into(d, out, 100, 5) == 1 && chain_is(out[0], fbs(w, 7, 2), 2));
    DEPOT_IS(d, 2, 7, 2);
    CHECK(hak_depot_take_into(d, out, 100, 6) == 1 && chain_is(out[0], fbs(w, 3, 4), 4));   /* exactly room */
    DEPOT_IS(d, 1, 3, 6);
    /* nothing wanted, or no room */
    CHECK(hak_depot_take_into(d, out, 0, 100) == 0 && hak_depot_take_into(d, out, 100, 0) == 0);
    DEPOT_IS(d, 1, 3, 6);
    CHECK(d->b[0].head == fb(0) && d->b[0].n == 3 && chain_is(d->b[0], fbs(w, 0, 3), 3));

    /* the newest batch bigger than room: exactly room blocks are cut from its
     * front, the rest stays as the newest batch, counted and NULL-ended */
    static const uint32_t big[] = { 3, 10 };   /* fb 0..2, 3..12 */
    d = depot_with(big, 2);
    CHECK(hak_depot_take_into(d, out, 100, 4) == 1 && chain_is(out[0], fbs(w, 3, 4), 4));
    DEPOT_IS(d, 2, 9, 4);
    CHECK(chain_is(d->b[1], fbs(w, 7, 6), 6) && chain_is(d->b[0], fbs(w, 0, 3), 3));
    CHECK(hak_depot_take_into(d, out, 1, 1) == 1 && chain_is(out[0], fbs(w, 7, 1), 1));   /* a cut of one */
    DEPOT_IS(d, 2, 8, 5);
    CHECK(chain_is(d->b[1], fbs(w, 8, 5), 5));
    /* the cut rest is whole again once room allows */
    CHECK(hak_depot_take_into(d, out, 100, 5) == 1 && chain_is(out[0], fbs(w, 8, 5), 5));
    DEPOT_IS(d, 1, 3, 10);

    /* hak_depot_take: the newest batch, not counted as taken */
    d = depot_with(sz, 3);
    CHECK(chain_is(hak_depot_take(d), fbs(w, 7, 2), 2));
    DEPOT_IS(d, 2, 7, 0);
    CHECK(chain_is(hak_depot_take(d), fbs(w, 3, 4), 4) && chain_is(hak_depot_take(d), fbs(w, 0, 3), 3));
    DEPOT_IS(d, 0, 0, 0);
    hak_batch_t none = hak_depot_take(d);
    CHECK(none.head == NULL && none.n == 0);
    DEPOT_IS(d, 0, 0, 0);
}

static void test_batches(void)
{
    batch_setup();
    batches_link();
    batches_magazine();
    batches_depot_put();
    batches_depot_take();
    batch_words1_kept();
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        { "pagemap", test_pagemap }, { "size_class", test_size_class }, { "span_blocks", test_span_blocks },
        { "span_lists", test_span_lists }, { "page_release", test_page_release },
        { "batches", test_batches },
    };
    return t_run("test_core_units", tests, sizeof tests / sizeof *tests, argc, argv);
}
