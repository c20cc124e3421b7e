/* The page heap (see hakmem_page_heap.h).  One lock guards the free ranges
 * and the boundary tags; it is never held across a system call (mmap,
 * madvise and munmap run after it is dropped, with the ranges they work on
 * out of every list).  free takes no lock. */
#define _GNU_SOURCE
#include "hakmem_page_heap.h"
#include "hakmem_lock.h"
#include "hakmem_options.h"
#include "hakmem_knobs.h"
#include "hakmem_ghost.h"
#include <string.h>

#define PG_SHIFT       12
#define REGION_ALIGN   ((size_t)2 << 20)
#define REGION_MIN     ((size_t)4 << 20)
#define REGION_MAX     ((size_t)256 << 20)
#define REGION_PAGES   (REGION_MAX >> PG_SHIFT)
#define REGIONS        256        /* 64 GiB of regions at most; beyond, blocks get mappings */
#define BINS           64
#define PURGE_BATCH    32         /* ranges purged per pass (the rest wait for the next) */
#define PASS_MIN_NS    10000000ull

/* A boundary tag, at the first and the last page of every range: its length
 * in pages and its state.  Pages inside a range keep stale tags; only the
 * ends are read (by the neighbours, to join free ranges). */
enum { T_FREE = 1, T_LIVE = 2, T_BUSY = 3 };   /* BUSY: out of the lists (purging, or a hole) */
#define TAG(n, st)   (((uint32_t)(n) << 2) | (st))
#define TAG_LEN(t)   ((t) >> 2)
#define TAG_STATE(t) ((t) & 3)

/* A free range, kept at its first page's slot of the region's node array
 * (metadata: the range's own pages are never touched, they may be purged). */
typedef struct ph_free {
    struct ph_free *next, *prev;
    uint64_t stamp;            /* when it was last freed; 0: purged (reads as zeros) */
    uint64_t purged;           /* when (part of) it was last purged; 0: never */
    uint32_t region, page, pages;
} ph_free_t;

typedef struct ph_region {
    hak_span_t desc;           /* what the page map gives: limit 0, pageheap 1 */
    uintptr_t base;            /* first page; 0 while not mapped */
    uint32_t npages;
    uint32_t huge;             /* MADV_HUGEPAGE in force */
    uint32_t used;             /* slot taken (ph_lock) */
    uint32_t *tag;             /* per page; with node[], one metadata mapping */
    ph_free_t *node;
    size_t meta_len;
    uint64_t live[REGION_PAGES / 64];   /* bit p: a live block starts at page p */
} ph_region_t;

static hak_lock_t ph_lock = HAK_LOCK_INIT;
static ph_region_t regions[REGIONS];
static uint32_t nregions;                /* slots ever used */
static ph_free_t *bins[BINS];
static uint64_t bin_mask;
static hak_ghost_t ghost;                /* the bound's evictions (ph_lock) */
static ph_free_t *pending;               /* freed blocks not yet joined (lock-free push) */
static uint64_t pending_bytes;
static uint64_t next_pass_ns;
static uint64_t bound_bytes = UINT64_MAX;
uint64_t hak_pageheap_mapped_bytes, hak_large_live_bytes;
static uint64_t dirty_bytes;   /* written under ph_lock, read without */

/* ph_lock; contended waits are counted apart too (heap_lock_waits,
 * heap_lock_wait_ns): whether the page heap needs sharding shows there. */
static void ph_lock_take(void)
{
    if (HAK_LIKELY(hak_trylock(&ph_lock)))
        return;
    uint64_t t0 = hak_now_ns();
    hak_lock(&ph_lock, &hak_global_counters);
    __atomic_fetch_add(&hak_global_counters.heap_lock_waits, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.heap_lock_wait_ns, hak_now_ns() - t0, __ATOMIC_RELAXED);
}

static uint64_t decay_ns(void) { return HAK_KNOB_GET(hold_ms) * 1000000ull; }
/* mallopt's bound as given; else HAKMEM_LARGE_CACHE_MB (0: none kept) or
 * twice the live Large bytes, whichever is more: a heap of live blocks of
 * mixed sizes has free gaps between them in proportion to its size (up to as
 * much as it holds with 5-25 MiB blocks), and purging those while the program
 * is busy only makes the next blocks fault them in again (malloc-large: with
 * the live bytes as the bound 274 purges, 792 k faults, 4.2 s and 566 MiB
 * peak; with twice them 127 k faults, 3.2 s and 511 MiB); the decay takes
 * them back once the program is not busy. */
static uint64_t bound(void)
{
    uint64_t b = __atomic_load_n(&bound_bytes, __ATOMIC_RELAXED);
    if (b != UINT64_MAX)
        return b;
    b = (uint64_t)HAK_KNOB_GET(large_cache_mb) << 20;
    if (!b)
        return 0;
    uint64_t live = __atomic_load_n(&hak_large_live_bytes, __ATOMIC_RELAXED);
    return live * 2 > b ? live * 2 : b;
}
void hak_pageheap_set_bound(uint64_t bytes) { __atomic_store_n(&bound_bytes, bytes, __ATOMIC_RELAXED); }

/* four bins per power of two */
static int bin_of(uint32_t n)
{
    int lg = 31 - __builtin_clz(n);
    int b = lg < 2 ? (int)n : lg * 4 + (int)((n >> (lg - 2)) & 3) - 4;
    return b < BINS ? b : BINS - 1;
}

static void dirty_add(int64_t pages)
{
    __atomic_store_n(&dirty_bytes, dirty_bytes + (uint64_t)pages * (1u << PG_SHIFT),
                     __ATOMIC_RELAXED);   /* written under ph_lock; read by statistics */
}

/* ---- ranges (ph_lock held) ---- */

static void range_set(ph_region_t *r, uint32_t s, uint32_t n, uint32_t state)
{
    r->tag[s] = r->tag[s + n - 1] = TAG(n, state);
}

static void free_insert(ph_region_t *r, uint32_t s, uint32_t n, uint64_t stamp, uint64_t purged)
{
    range_set(r, s, n, T_FREE);
    ph_free_t *f = &r->node[s];
    int b = bin_of(n);
    *f = (ph_free_t){ bins[b], NULL, stamp, purged, (uint32_t)(r - regions), s, n };
    if (bins[b])
        bins[b]->prev = f;
    bins[b] = f;
    bin_mask |= 1ull << b;
    if (stamp)
        dirty_add(n);
}

static void free_remove(ph_free_t *f)
{
    int b = bin_of(f->pages);
    if (f->prev)
        f->prev->next = f->next;
    else if (!(bins[b] = f->next))
        bin_mask &= ~(1ull << b);
    if (f->next)
        f->next->prev = f->prev;
    if (f->stamp)
        dirty_add(-(int64_t)f->pages);
}

/* The stamp of two joined ranges: 0 (reads as zeros) only if both were;
 * else the page-weighted mean of the resident ones' times, so a small block
 * freed now into a big range freed long ago leaves it old (the decay still
 * takes it back during a trickle of calls), and a big one freed now into a
 * small old range makes it young. */
static uint64_t stamp_join(uint64_t s1, uint32_t n1, uint64_t s2, uint32_t n2)
{
    if (!s1 || !s2)
        return s1 | s2;
    return (uint64_t)(((unsigned __int128)s1 * n1 + (unsigned __int128)s2 * n2) / (n1 + n2));
}

/* A range becomes free: joined with free neighbours.  The joined range keeps
 * the latest purge time of its parts. */
static void free_join(ph_region_t *r, uint32_t s, uint32_t n, uint64_t stamp, uint64_t purged)
{
    if (s > 0 && TAG_STATE(r->tag[s - 1]) == T_FREE) {
        ph_free_t *l = &r->node[s - TAG_LEN(r->tag[s - 1])];
        free_remove(l);
        stamp = stamp_join(stamp, n, l->stamp, l->pages);
        purged = purged > l->purged ? purged : l->purged;
        n += l->pages;
        s = l->page;
    }
    if (s + n < r->npages && TAG_STATE(r->tag[s + n]) == T_FREE) {
        ph_free_t *f = &r->node[s + n];
        free_remove(f);
        stamp = stamp_join(stamp, n, f->stamp, f->pages);
        purged = purged > f->purged ? purged : f->purged;
        n += f->pages;
    }
    free_insert(r, s, n, stamp, purged);
}

/* Join the blocks freed since the last call. */
static void drain_pending(uint64_t now)
{
    ph_free_t *f = __atomic_exchange_n(&pending, NULL, __ATOMIC_ACQUIRE);
    while (f) {
        ph_free_t *next = f->next;
        ph_region_t *r = &regions[f->region];
        uint32_t n = TAG_LEN(r->tag[f->page]);
        __atomic_fetch_sub(&pending_bytes, (uint64_t)n << PG_SHIFT, __ATOMIC_RELAXED);
        free_join(r, f->page, n, now, 0);
        f = next;
    }
}

/* The smallest free range of at least n pages: the bin of n, then the first
 * non-empty bin above it. */
static ph_free_t *best_fit(uint32_t n)
{
    for (uint64_t m = bin_mask & (~0ull << bin_of(n)); m; m &= m - 1) {
        ph_free_t *best = NULL;
        for (ph_free_t *f = bins[__builtin_ctzll(m)]; f; f = f->next)
            if (f->pages >= n && (!best || f->pages < best->pages)) {
                best = f;
                if (f->pages == n)
                    break;
            }
        if (best)
            return best;
    }
    return NULL;
}

/* n pages at an `align` boundary from f; the rest stays free.  Returns the
 * first page; *stamp: f's (0: the pages read as zeros), *purged: f's. */
static uint32_t carve(ph_free_t *f, uint32_t n, size_t align, uint64_t *stamp, uint64_t *purged)
{
    ph_region_t *r = &regions[f->region];
    uint32_t s = f->page, m = f->pages, at = s;
    *stamp = f->stamp;
    *purged = f->purged;
    free_remove(f);
    if (align > (1u << PG_SHIFT)) {
        uintptr_t a = r->base + ((uintptr_t)s << PG_SHIFT);
        at = s + (uint32_t)((((a + align - 1) & ~(uintptr_t)(align - 1)) - a) >> PG_SHIFT);
    }
    if (at > s)
        free_insert(r, s, at - s, *stamp, *purged);
    if (at + n < s + m)
        free_insert(r, at + n, s + m - at - n, *stamp, *purged);
    range_set(r, at, n, T_LIVE);
    __atomic_fetch_or(&r->live[at / 64], 1ull << (at % 64), __ATOMIC_RELEASE);
    return at;
}

/* ---- regions ---- */

/* Map a region of at least `need` pages: about half the heap's size so far,
 * so their number stays small (vm.max_map_count), between 4 and 256 MiB:
 * with 64 MiB at most, blocks of 5-25 MiB (large_replace) packed worse and
 * peak RSS was 540 MiB against 497.
 * Outside the lock; the caller joins its pages to the free ranges under it. */
static ph_region_t *region_map(uint32_t need, ph_region_t *r)
{
    size_t min = (((size_t)need << PG_SHIFT) + REGION_ALIGN - 1) & ~(REGION_ALIGN - 1);
    size_t want = (__atomic_load_n(&hak_pageheap_mapped_bytes, __ATOMIC_RELAXED) / 2) & ~(REGION_ALIGN - 1);
    want = want < REGION_MIN ? REGION_MIN : want > REGION_MAX ? REGION_MAX : want;
    size_t len = want > min ? want : min;
    void *base = hak_os_map_aligned(len, REGION_ALIGN);
    if (!base && len > min)
        base = hak_os_map_aligned(len = min, REGION_ALIGN);
    if (!base)
        return NULL;
    uint32_t npages = (uint32_t)(len >> PG_SHIFT);
    size_t meta = ((size_t)npages * (sizeof(uint32_t) + sizeof(ph_free_t)) + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1);
    void *m = hak_os_map(meta);
    r->desc.start = (uintptr_t)base;
    r->desc.pageheap = 1;
    if (!m || !hak_pagemap_set_range((uintptr_t)base, len, &r->desc)) {
        if (m)
            hak_os_unmap(m, meta);
        hak_os_unmap(base, len);
        return NULL;
    }
    if (hak_option_u64(HAK_OPT_HUGEPAGES)) {
        hak_os_hugepages(base, len, 1);
        r->huge = 1;
    }
    r->node = m;
    r->tag = (uint32_t *)((char *)m + (size_t)npages * sizeof(ph_free_t));
    r->meta_len = meta;
    r->npages = npages;
    __atomic_store_n(&r->base, (uintptr_t)base, __ATOMIC_RELEASE);
    __atomic_fetch_add(&hak_pageheap_mapped_bytes, len, __ATOMIC_RELAXED);
    return r;
}

/* A free descriptor slot, taken until the region is mapped and unmapped
 * again, or given up (ph_lock held). */
static ph_region_t *slot_reserve(void)
{
    for (uint32_t i = 0; i < nregions; i++)
        if (!regions[i].used) {
            regions[i].used = 1;
            return &regions[i];
        }
    if (nregions == REGIONS)
        return NULL;
    regions[nregions].used = 1;
    return &regions[nregions++];
}

/* A region to unmap: out of the lists, out of reach of free (ph_lock held). */
static void region_retire(ph_region_t *r)
{
    free_remove(&r->node[0]);
    range_set(r, 0, r->npages, T_BUSY);
    __atomic_store_n(&r->base, 0, __ATOMIC_RELEASE);
}

/* Unmap a retired region (no lock held); the slot is free again after. */
static void region_unmap(ph_region_t *r)
{
    size_t len = (size_t)r->npages << PG_SHIFT;
    hak_pagemap_set_range(r->desc.start, len, HAK_SPAN_INVALID);
    hak_os_unmap((void *)r->desc.start, len);
    hak_os_unmap(r->node, r->meta_len);
    __atomic_fetch_sub(&hak_pageheap_mapped_bytes, len, __ATOMIC_RELAXED);
    ph_lock_take();
    memset(r->live, 0, sizeof r->live);
    r->huge = 0;
    r->used = 0;
    hak_unlock(&ph_lock);
}

/* ---- blocks ---- */

static ph_region_t *region_of(const hak_span_t *sp, const void *p, uint32_t *page)
{
    ph_region_t *r = (ph_region_t *)sp;
    uintptr_t a = (uintptr_t)p, base = __atomic_load_n(&r->base, __ATOMIC_ACQUIRE);
    if (!base || a < base || (a & ((1u << PG_SHIFT) - 1)) || ((a - base) >> PG_SHIFT) >= r->npages)
        return NULL;
    *page = (uint32_t)((a - base) >> PG_SHIFT);
    return r;
}

static int is_live(const ph_region_t *r, uint32_t s)
{
    return (__atomic_load_n(&r->live[s / 64], __ATOMIC_ACQUIRE) >> (s % 64)) & 1;
}

static void *block_at(const ph_region_t *r, uint32_t s) { return (void *)(r->base + ((uintptr_t)s << PG_SHIFT)); }

uint64_t hak_pageheap_free_bytes(void)
{
    return __atomic_load_n(&dirty_bytes, __ATOMIC_RELAXED) +
           __atomic_load_n(&pending_bytes, __ATOMIC_RELAXED);
}

int hak_pageheap_pass_due(uint64_t now)
{
    if (hak_pageheap_free_bytes() > bound())
        return 1;
    uint64_t next = __atomic_load_n(&next_pass_ns, __ATOMIC_RELAXED), d = decay_ns() / 4;
    return now >= next && __atomic_compare_exchange_n(&next_pass_ns, &next, now + (d > PASS_MIN_NS ? d : PASS_MIN_NS),
                                                      0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void *hak_pageheap_alloc(size_t len, size_t align, int zero)
{
    uint32_t n = (uint32_t)(len >> PG_SHIFT);
    uint32_t need = n + (align > (1u << PG_SHIFT) ? (uint32_t)(align >> PG_SHIFT) - 1 : 0);
    uint64_t now = hak_now_ns(), stamp, purged;
    ph_lock_take();
    drain_pending(now);
    ph_free_t *f = best_fit(need);
    int miss = !f;
    while (!f) {
        ph_region_t *slot = slot_reserve();
        hak_unlock(&ph_lock);
        ph_region_t *r = slot ? region_map(need, slot) : NULL;
        ph_lock_take();
        if (!r) {
            if (slot)
                slot->used = 0;
            hak_unlock(&ph_lock);
            return NULL;
        }
        free_join(r, 0, r->npages, 0, 0);
        f = best_fit(need);   /* another thread may have taken the new region meanwhile */
    }
    ph_region_t *r = &regions[f->region];
    void *p = block_at(r, carve(f, n, align, &stamp, &purged));
    if (!stamp)
        hak_ghost_miss(&ghost, (uint64_t)n << PG_SHIFT, now);
    hak_unlock(&ph_lock);
    __atomic_fetch_add(miss ? &hak_global_counters.heap_misses : &hak_global_counters.heap_hits, 1, __ATOMIC_RELAXED);
    /* pages purged (a joined range: some of them) within the hold time */
    if (!stamp && purged && purged + decay_ns() > now)   /* purged may be a pass's deadline, past now */
        __atomic_fetch_add(&hak_global_counters.pages_reused_heap, n, __ATOMIC_RELAXED);
    if (zero && stamp)
        memset(p, 0, len);
    return p;
}

size_t hak_pageheap_free(hak_span_t *sp, void *p)
{
    uint32_t s;
    ph_region_t *r = region_of(sp, p, &s);
    if (!r)
        return 0;
    uint64_t bit = 1ull << (s % 64);
    if (!(__atomic_fetch_and(&r->live[s / 64], ~bit, __ATOMIC_ACQ_REL) & bit))
        return 0;   /* a double free, or no block starts here */
    ph_free_t *f = &r->node[s];
    size_t bytes = (size_t)TAG_LEN(r->tag[s]) << PG_SHIFT;
    f->region = (uint32_t)(r - regions);
    f->page = s;
    __atomic_fetch_add(&pending_bytes, bytes, __ATOMIC_RELAXED);
    f->next = __atomic_load_n(&pending, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&pending, &f->next, f, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    return bytes;
}

size_t hak_pageheap_usable(const hak_span_t *sp, const void *p)
{
    uint32_t s;
    const ph_region_t *r = region_of(sp, p, &s);
    return r && is_live(r, s) ? (size_t)TAG_LEN(r->tag[s]) << PG_SHIFT : 0;
}

int hak_pageheap_resize(hak_span_t *sp, void *p, size_t len)
{
    uint32_t s, n = (uint32_t)(len >> PG_SHIFT);
    ph_region_t *r = region_of(sp, p, &s);
    uint64_t now = hak_now_ns();
    int done = 0;
    if (!r || !is_live(r, s))
        return 0;
    ph_lock_take();
    drain_pending(now);
    uint32_t m = TAG_LEN(r->tag[s]), t = s + m;
    if (n <= m) {
        if (n < m) {
            range_set(r, s, n, T_LIVE);
            free_join(r, s + n, m - n, now, 0);
        }
        done = 1;
    } else if (t < r->npages && TAG_STATE(r->tag[t]) == T_FREE && m + TAG_LEN(r->tag[t]) >= n) {
        ph_free_t *f = &r->node[t];
        uint32_t rest = m + f->pages - n;
        uint64_t stamp = f->stamp, purged = f->purged;
        free_remove(f);
        range_set(r, s, n, T_LIVE);
        if (rest)
            free_insert(r, s + n, rest, stamp, purged);
        done = 1;
    }
    hak_unlock(&ph_lock);
    return done;
}

void *hak_pageheap_move_out(hak_span_t *sp, void *p, size_t len, size_t align)
{
    uint32_t s;
    ph_region_t *r = region_of(sp, p, &s);
    if (!r || !is_live(r, s))
        return NULL;
    uint32_t m = TAG_LEN(r->tag[s]);
    void *q = hak_os_remap_away(p, (size_t)m << PG_SHIFT, len, align);
    if (!q)
        return NULL;
    int refilled = hak_os_map_fixed(p, (size_t)m << PG_SHIFT) == 0;
    __atomic_fetch_and(&r->live[s / 64], ~(1ull << (s % 64)), __ATOMIC_RELEASE);
    ph_lock_take();
    if (refilled)
        free_join(r, s, m, 0, 0);   /* fresh pages */
    else
        range_set(r, s, m, T_BUSY);
    hak_unlock(&ph_lock);
    return q;
}

/* ---- purging ---- */

typedef struct { ph_free_t *f[PURGE_BATCH]; int n; } victims_t;

/* The oldest resident free range not yet chosen, or NULL. */
static ph_free_t *oldest_dirty(void)
{
    ph_free_t *old = NULL;
    for (uint64_t m = bin_mask; m; m &= m - 1)
        for (ph_free_t *f = bins[__builtin_ctzll(m)]; f; f = f->next)
            if (f->stamp && (!old || f->stamp < old->stamp))
                old = f;
    return old;
}

/* Take a range out of the lists for purging (ph_lock held). */
static void victim_take(victims_t *v, ph_free_t *f)
{
    free_remove(f);
    range_set(&regions[f->region], f->page, f->pages, T_BUSY);
    v->f[v->n++] = f;
}

/* Choose the ranges to purge, and the wholly free purged regions to unmap
 * (ph_lock held). */
static void choose(uint64_t now, int all, victims_t *v, victims_t *gone)
{
    uint64_t d = decay_ns(), cut = all ? UINT64_MAX : now > d ? now - d : 0;
    for (uint64_t m = bin_mask; m; m &= m - 1)
        for (ph_free_t *f = bins[__builtin_ctzll(m)], *next; f; f = next) {
            next = f->next;
            ph_region_t *r = &regions[f->region];
            if (!f->stamp && f->pages == r->npages && gone->n < PURGE_BATCH) {
                region_retire(r);
                gone->f[gone->n++] = f;
            } else if (f->stamp && f->stamp <= cut && v->n < PURGE_BATCH) {
                victim_take(v, f);
            }
        }
    ph_free_t *f;
    while (v->n < PURGE_BATCH && dirty_bytes > bound() && (f = oldest_dirty())) {
        hak_ghost_evicted(&ghost, (uint64_t)f->pages << PG_SHIFT, now);
        victim_take(v, f);
    }
}

size_t hak_pageheap_purge(uint64_t now, int all)
{
    victims_t v = { .n = 0 }, gone = { .n = 0 };
    size_t pages = 0;
    do {
        v.n = gone.n = 0;
        ph_lock_take();
        drain_pending(now);
        choose(now, all, &v, &gone);
        hak_unlock(&ph_lock);
        for (int i = 0; i < v.n; i++) {
            ph_region_t *r = &regions[v.f[i]->region];
            if (__atomic_load_n(&r->huge, __ATOMIC_RELAXED) && __atomic_exchange_n(&r->huge, 0, __ATOMIC_RELAXED))
                hak_os_hugepages(block_at(r, 0), (size_t)r->npages << PG_SHIFT, 0);   /* or khugepaged refills it */
            hak_os_release(block_at(r, v.f[i]->page), (size_t)v.f[i]->pages << PG_SHIFT);
            pages += v.f[i]->pages;
        }
        for (int i = 0; i < gone.n; i++)
            region_unmap(&regions[gone.f[i]->region]);
        if (v.n) {
            ph_lock_take();
            for (int i = 0; i < v.n; i++)
                free_join(&regions[v.f[i]->region], v.f[i]->page, v.f[i]->pages, 0, now);
            hak_unlock(&ph_lock);
        }
        __atomic_fetch_add(&hak_global_counters.heap_purges, (uint64_t)v.n, __ATOMIC_RELAXED);
    } while (all && (v.n || gone.n));   /* purged ranges may leave regions wholly free */
    __atomic_fetch_add(&hak_global_counters.pages_released_heap, pages, __ATOMIC_RELAXED);
    return pages;
}

void hak_pageheap_lock(void) { pthread_mutex_lock(&ph_lock.m); }
void hak_pageheap_unlock(void) { pthread_mutex_unlock(&ph_lock.m); }
void hak_pageheap_reinit_lock(void) { hak_lock_reinit(&ph_lock); }
