/* Spans: the free-block bitmap, page release inside a span, and the lists an
 * owner keeps its spans on (see hakmem_segment.h). */
#include "hakmem_segment.h"
#include "hakmem_lock.h"
#include "hakmem_options.h"
#include "hakmem_knobs.h"
#include "hakmem_secure.h"

#if HAK_SECURE
/* OS page j came back zeroed: the free blocks on it need a link and a tail
 * again (hakmem_secure.h). */
static void span_page_fresh(hak_span_t *sp, uint32_t j)
{
    uint32_t bsize = sp->bsize, first = (uint32_t)((uint64_t)j * HAK_OS_PAGE / bsize);
    uint32_t last = (uint32_t)(((uint64_t)j * HAK_OS_PAGE + HAK_OS_PAGE - 1) / bsize);
    for (uint32_t b = first; b <= last && b < sp->capacity; b++)
        if (sp->freemap[b / 64] & (1ull << (b % 64))) {
            void *blk = (void *)(sp->start + (uintptr_t)b * bsize);
            hak_links_fresh(&blk, 1, bsize);
        }
}
#endif

/* A block handed out from a released OS page makes that page resident again;
 * within the hold time of the span's last release it counts as reused. */
static void span_unrelease(hak_span_t *sp, uintptr_t p)
{
    uint32_t first = (uint32_t)((p - sp->start) / HAK_OS_PAGE);
    uint32_t last = (uint32_t)((p - sp->start + sp->bsize - 1) / HAK_OS_PAGE), back = 0;
    for (uint32_t j = first; j <= last && sp->nreleased; j++)
        if (sp->released[j / 64] & (1ull << (j % 64))) {
            sp->released[j / 64] &= ~(1ull << (j % 64));
            sp->nreleased--;
            back++;
#if HAK_SECURE
            span_page_fresh(sp, j);
#endif
            __atomic_fetch_sub(&hak_bytes_released, HAK_OS_PAGE, __ATOMIC_RELAXED);
        }
    if (back && sp->released_ns + HAK_KNOB_GET(hold_ms) * 1000000ull > hak_now_ns())
        __atomic_fetch_add(&hak_global_counters.pages_reused_spans, back, __ATOMIC_RELAXED);
}

/* Any OS page under the blocks of bitmap word w released? (one test per
 * word, so a span with a few released pages does not cost a test per block) */
static int word_has_released(const hak_span_t *sp, uint32_t w)
{
    uint64_t lo = (uint64_t)w * 64 * sp->bsize, hi = lo + 64ull * sp->bsize - 1;
    uint32_t j0 = (uint32_t)(lo / HAK_OS_PAGE), j1 = (uint32_t)(hi / HAK_OS_PAGE);
    if (j1 >= HAK_SPAN_MAX_OSPAGES)
        j1 = HAK_SPAN_MAX_OSPAGES - 1;
    for (uint32_t j = j0; j <= j1; j = (j | 63) + 1) {
        uint32_t e = (j | 63) < j1 ? (j | 63) : j1;
        uint64_t m = (e % 64 == 63 ? ~0ull : ((2ull << (e % 64)) - 1)) & (~0ull << (j % 64));
        if (sp->released[j / 64] & m)
            return 1;
    }
    return 0;
}

/* Blocks go out lowest first (from the first word with a free bit, its low
 * bits first), so `limit`, raised to the end of the highest block taken, is a
 * high-water mark below which every block was handed out once.  The store is
 * made under the owner's lock before the blocks reach a magazine: a thread
 * that is given one of them later sees it (a release store; plain on x86). */
static uint32_t span_take(hak_span_t *sp, void **out, uint32_t n)
{
    uint32_t got = 0, words = (sp->capacity + 63) / 64, w = sp->scan;
    uintptr_t start = sp->start, bsize = sp->bsize;
    uint64_t seen = sp->limit;
    for (; w < words && got < n; w++) {
        uint64_t bits = sp->freemap[w];
        uint32_t first = got;
        while (bits && got < n) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            out[got++] = (void *)(start + ((uintptr_t)w * 64 + b) * bsize);
        }
        sp->freemap[w] = bits;
        if (sp->nreleased && got > first && word_has_released(sp, w))
            for (uint32_t i = first; i < got; i++) {
                span_unrelease(sp, (uintptr_t)out[i]);
                hak_links_fresh(&out[i], 1, sp->bsize);   /* its page may have come back zeroed */
            }
        if (bits)
            break;
    }
    sp->scan = w;
    sp->used += got;
    /* secure: a block above the old mark was never handed out and has no link
     * yet; one below it has the link and tail its last free wrote */
    for (uint32_t i = 0; i < got; i++)
        if ((uintptr_t)out[i] - start + bsize > seen)
            hak_links_fresh(&out[i], 1, sp->bsize);
    if (got) {
        uint64_t end = (uintptr_t)out[got - 1] - start + bsize;
        if (end > sp->limit)
            __atomic_store_n(&sp->limit, end, __ATOMIC_RELEASE);
    }
    return got;
}

/* Set the bits of n blocks of sp; the first one already free is returned
 * (a double free, nothing after it is set), else NULL. */
static void *span_put(hak_span_t *sp, void *const *blocks, uint32_t n)
{
    uint32_t scan = sp->scan;
    sp->clean = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = hak_span_index(sp, (uintptr_t)blocks[i]), w = idx / 64;
        uint64_t bit = 1ull << (idx % 64);
        if (HAK_UNLIKELY(sp->freemap[w] & bit)) {
            sp->used -= i;
            sp->scan = scan;
            return blocks[i];
        }
        sp->freemap[w] |= bit;
        if (w < scan)
            scan = w;
    }
    sp->scan = scan;
    sp->used -= n;
    return NULL;
}

/* all blocks in [first, last] free? */
static int span_range_free(const hak_span_t *sp, uint32_t first, uint32_t last)
{
    for (uint32_t i = first; i <= last;) {
        uint32_t w = i / 64, b = i % 64, n = 64 - b;
        if (n > last - i + 1)
            n = last - i + 1;
        uint64_t m = (n == 64 ? ~0ull : ((1ull << n) - 1)) << b;
        if ((sp->freemap[w] & m) != m)
            return 0;
        i += n;
    }
    return 1;
}

/* OS page j of the span holds no used block and is not released yet? */
static int span_page_free(const hak_span_t *sp, uint32_t j)
{
    if (sp->released[j / 64] & (1ull << (j % 64)))
        return 0;
    uint64_t lo = (uint64_t)j * HAK_OS_PAGE, hi = lo + HAK_OS_PAGE - 1;
    uint32_t first = (uint32_t)(lo / sp->bsize), last = (uint32_t)(hi / sp->bsize);
    if (last >= sp->capacity)
        last = sp->capacity - 1;
    return first > last || span_range_free(sp, first, last);
}

static void span_mark_released(hak_span_t *sp, uint32_t j0, uint32_t n, hak_counters_t *cnt)
{
    for (uint32_t j = j0; j < j0 + n; j++)
        sp->released[j / 64] |= 1ull << (j % 64);
    hak_span_release_range(sp, (void *)(sp->start + (uintptr_t)j0 * HAK_OS_PAGE), (size_t)n * HAK_OS_PAGE);
    sp->nreleased += n;
    sp->released_ns = hak_now_ns();
    __atomic_fetch_add(&hak_bytes_released, (uint64_t)n * HAK_OS_PAGE, __ATOMIC_RELAXED);
    hak_cnt_add(cnt, &cnt->pages_released_spans, n);
}

/* The OS pages under block p that hold no used block now. */
static void release_block_pages(hak_span_t *sp, uintptr_t p, hak_counters_t *cnt)
{
    uint32_t j0 = (uint32_t)((p - sp->start) / HAK_OS_PAGE);
    uint32_t j1 = (uint32_t)((p - sp->start + sp->bsize - 1) / HAK_OS_PAGE);
    uint32_t run = 0, runj = j0;
    for (uint32_t j = j0; j <= j1; j++) {
        if (span_page_free(sp, j)) {
            if (!run)
                runj = j;
            run++;
        } else if (run) {
            span_mark_released(sp, runj, run, cnt);
            run = 0;
        }
    }
    if (run)
        span_mark_released(sp, runj, run, cnt);
}

size_t hak_span_release_free_pages(hak_span_t *sp, uint32_t max_pages, hak_counters_t *cnt)
{
    /* pages past the last block are never touched (a freed span's pages all
     * went back, a new segment's are fresh): not counted as given back */
    uint32_t ospages = (uint32_t)(((uint64_t)sp->capacity * sp->bsize + HAK_OS_PAGE - 1) / HAK_OS_PAGE);
    size_t done = 0;
    uint32_t run = 0, runj = 0;
    for (uint32_t j = 0; j < ospages && done < max_pages; j++) {
        if (span_page_free(sp, j)) {
            if (!run)
                runj = j;
            run++;
            done++;
        } else if (run) {
            span_mark_released(sp, runj, run, cnt);
            run = 0;
        }
    }
    if (run)
        span_mark_released(sp, runj, run, cnt);
    if (done < max_pages)
        sp->clean = 1;      /* every free page is released now */
    return done;
}

static void list_push(hak_span_lists_t *l, hak_span_t *sp, int list)
{
    sp->aged = 0;
    sp->list = (uint8_t)list;
    sp->prev = NULL;
    sp->next = l->head[list];
    if (sp->next)
        sp->next->prev = sp;
    else
        l->tail[list] = sp;
    l->head[list] = sp;
}

static void unlink_span(hak_span_lists_t *l, hak_span_t *sp)
{
    if (sp->prev)
        sp->prev->next = sp->next;
    else
        l->head[sp->list] = sp->next;
    if (sp->next)
        sp->next->prev = sp->prev;
    else
        l->tail[sp->list] = sp->prev;
    sp->next = sp->prev = NULL;
    sp->list = HAK_LIST_NONE;
}

/* to the tail of its list, keeping aged: a maintenance pass goes round */
static void rotate(hak_span_lists_t *l, hak_span_t *sp)
{
    int list = sp->list;
    uint8_t aged = sp->aged;
    if (l->tail[list] == sp)
        return;
    unlink_span(l, sp);
    sp->list = (uint8_t)list;
    sp->aged = aged;
    sp->next = NULL;
    sp->prev = l->tail[list];
    l->tail[list]->next = sp;
    l->tail[list] = sp;
}

void hak_spans_remove(hak_span_lists_t *l, hak_span_t *sp)
{
    unlink_span(l, sp);
    if (sp->used == 0)
        l->nempty--;
}

static void move(hak_span_lists_t *l, hak_span_t *sp, int list)
{
    unlink_span(l, sp);
    list_push(l, sp, list);
}

void hak_spans_insert(hak_span_lists_t *l, hak_span_t *sp)
{
    if (sp->used == sp->capacity)
        list_push(l, sp, HAK_LIST_FULL);
    else
        list_push(l, sp, sp->used * 2 <= sp->capacity ? HAK_LIST_SPARSE : HAK_LIST_AVAIL);
    if (sp->used == 0)
        l->nempty++;
}

hak_span_t *hak_spans_pick(const hak_span_lists_t *l)
{
    return l->head[HAK_LIST_AVAIL] ? l->head[HAK_LIST_AVAIL] : l->head[HAK_LIST_SPARSE];
}

uint32_t hak_spans_take(hak_span_lists_t *l, hak_span_t *sp, void **out, uint32_t n)
{
    sp->aged = 0;          /* in use: not a span to release pages from */
    if (sp->used == 0)
        l->nempty--;
    uint32_t got = span_take(sp, out, n);
    l->taken += got;
    if (sp->used == sp->capacity)
        move(l, sp, HAK_LIST_FULL);
    else if (sp->list == HAK_LIST_SPARSE && sp->used * 4 > sp->capacity * 3)
        move(l, sp, HAK_LIST_AVAIL);
    return got;
}

/* An empty span on a watch list or an inbox stays until it is off it. */
static int span_can_free(const hak_span_t *sp)
{
    return sp->used == 0 && !__atomic_load_n(&sp->queued, __ATOMIC_ACQUIRE);
}

void *hak_spans_return(hak_span_lists_t *l, hak_span_t *sp, void *const *blocks, uint32_t n, int release_pages,
                       hak_counters_t *cnt)
{
    uint32_t before = sp->used;
    void *bad = span_put(sp, blocks, n);
    if (bad || sp->used == before)
        return bad;
    l->returned += n;
    if (sp->used == 0) {
        /* empty spans wait for the next maintenance pass (a churning program
         * takes them again first); past a hard limit they go at once */
        if (l->nempty >= l->reserve + HAK_EMPTY_WAITING && span_can_free(sp)) {
            unlink_span(l, sp);
            hak_span_free(sp, cnt);
            return NULL;
        }
        l->nempty++;
    }
    if (sp->list == HAK_LIST_FULL)
        move(l, sp, sp->used * 2 <= sp->capacity ? HAK_LIST_SPARSE : HAK_LIST_AVAIL);
    else if (sp->list == HAK_LIST_AVAIL && sp->used * 2 <= sp->capacity)
        move(l, sp, HAK_LIST_SPARSE);
    else if (sp->aged && sp->used && sp->used * HAK_KNOB_GET(sparse_div) <= sp->capacity &&
             release_pages && l->returned > l->taken + HAK_KNOB_GET(shrink_min))
        for (uint32_t i = 0; i < n; i++)   /* sparse for a whole period, list shrinking: not churning */
            release_block_pages(sp, (uintptr_t)blocks[i], cnt);
    return NULL;
}

int hak_spans_maintain(hak_span_lists_t *l, uint32_t pages, uint64_t deadline, hak_counters_t *cnt)
{
    hak_span_t *last = l->tail[HAK_LIST_SPARSE];
    l->taken = l->returned = 0;
    for (hak_span_t *sp = l->head[HAK_LIST_SPARSE], *next; sp; sp = next) {
        next = sp == last ? NULL : sp->next;
        if (!sp->aged) {
            sp->aged = 1;      /* sparse and not allocated from since the last pass */
            continue;
        }
        if (span_can_free(sp) && l->nempty > l->reserve) {
            hak_spans_remove(l, sp);
            hak_span_free(sp, cnt);
        } else if (pages && !sp->clean && sp->used) {
            hak_span_release_free_pages(sp, pages, cnt);
            rotate(l, sp);     /* the rest of its pages wait while others get a turn */
        } else {
            continue;
        }
        if (hak_now_ns() >= deadline)
            return 0;
    }
    return 1;
}

int hak_pass_due(uint64_t *next_pass_ns, uint64_t *deadline)
{
    uint64_t now = hak_now_ns();
    if (now < __atomic_load_n(next_pass_ns, __ATOMIC_RELAXED))
        return 0;
    __atomic_store_n(next_pass_ns, now + HAK_RELEASE_PERIOD_NS, __ATOMIC_RELAXED);
    *deadline = now + HAK_RELEASE_PASS_NS;
    return 1;
}

static size_t release_from(hak_span_lists_t *l, hak_span_t *sp, int empty_only, uint32_t pages, uint64_t deadline,
                           hak_counters_t *cnt)
{
    size_t done = 0;
    while (sp && hak_now_ns() < deadline) {
        hak_span_t *next = sp->next;
        if (span_can_free(sp)) {
            hak_spans_remove(l, sp);
            done += sp->pages * (HAK_PAGE_SIZE / HAK_OS_PAGE) - sp->nreleased;
            hak_span_free(sp, cnt);
        } else if (!empty_only && !sp->clean) {
            done += hak_span_release_free_pages(sp, pages, cnt);
        }
        sp = next;
    }
    return done;
}

size_t hak_spans_release(hak_span_lists_t *l, int empty_only, uint32_t pages, uint64_t deadline,
                         hak_counters_t *cnt)
{
    return release_from(l, l->head[HAK_LIST_SPARSE], empty_only, pages, deadline, cnt) +
           release_from(l, l->head[HAK_LIST_AVAIL], empty_only, pages, deadline, cnt);
}
