/* Large blocks: the page heap below HAK_PH_MAX (hakmem_page_heap.c); above
 * it mappings of their own (or pieces of one) found through a registry, and a
 * cache of freed pieces kept resident for a bounded time and number of bytes
 * (see hakmem_large.h).  One lock guards registry and cache; it is never held
 * across a system call: victims are unmapped, and mremap runs, after it is
 * dropped. */
#define _GNU_SOURCE
#include "hakmem_large.h"
#include "hakmem_lock.h"
#include "hakmem_page_heap.h"
#include "hakmem_ghost.h"
#include "hakmem_options.h"
#include "hakmem_knobs.h"
#include "hakmem_secure.h"
#include "hakmem_report.h"
#include <errno.h>
#include <string.h>

#define CACHE_SLOTS 32
/* a cached piece larger than the request by less than this is handed out
 * whole: a split would save less than a little */
#define SPLIT_MIN(len) ((len) / 8 > (64u << 10) ? (len) / 8 : (64u << 10))

/* base: the start of the mapping the piece was cut from.  Pieces with one
 * base that touch lie in one VMA, so they may be joined, and a joined range
 * can still be given to mremap (which refuses a range spanning two VMAs). */
typedef struct { uintptr_t ptr; size_t len; uintptr_t base; } entry_t;
typedef struct { uintptr_t ptr; size_t len; uintptr_t base; uint64_t freed_ns; } piece_t;
typedef struct { piece_t v[CACHE_SLOTS + 2]; int n; } victims_t;   /* to unmap, unlocked */

static hak_lock_t large_lock = HAK_LOCK_INIT;
static entry_t *table;            /* open addressing, linear probing, 0 = empty */
static size_t table_cap, table_n;
static piece_t cache[CACHE_SLOTS];
static int cache_n;
static hak_ghost_t ghost;             /* the bound's evictions (large_lock) */
uint64_t hak_large_cached_bytes, hak_large_live_count;

static size_t slot_of(uintptr_t p, size_t cap) { return (size_t)((p >> 12) * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1); }

static int table_grow(void)
{
    size_t ncap = table_cap ? table_cap * 2 : 1024;
    entry_t *nt = hak_os_map(ncap * sizeof(entry_t));   /* under the lock: one small mmap, rare */
    if (!nt)
        return 0;
    for (size_t i = 0; i < table_cap; i++)
        if (table[i].ptr) {
            size_t j = slot_of(table[i].ptr, ncap);
            while (nt[j].ptr)
                j = (j + 1) & (ncap - 1);
            nt[j] = table[i];
        }
    if (table)
        hak_os_unmap(table, table_cap * sizeof(entry_t));
    table = nt;
    table_cap = ncap;
    return 1;
}

/* A new block needs room at half load.  A block coming back after mremap
 * (force) may use the other half when the table cannot grow: its slot was
 * given up only for the length of the call. */
static int table_insert(uintptr_t p, size_t len, uintptr_t base, int force)
{
    if ((table_n + 1) * 2 > table_cap && !table_grow() && !(force && table_n + 1 < table_cap))
        return 0;
    size_t j = slot_of(p, table_cap);
    while (table[j].ptr)
        j = (j + 1) & (table_cap - 1);
    table[j] = (entry_t){ p, len, base };
    table_n++;
    return 1;
}

static entry_t *table_find(uintptr_t p)
{
    if (!table_cap)
        return NULL;
    for (size_t j = slot_of(p, table_cap);; j = (j + 1) & (table_cap - 1)) {
        if (table[j].ptr == p)
            return &table[j];
        if (!table[j].ptr)
            return NULL;
    }
}

/* backward-shift deletion keeps probe chains intact */
static void table_remove(entry_t *e)
{
    size_t i = (size_t)(e - table);
    table[i].ptr = 0;
    table_n--;
    for (size_t j = (i + 1) & (table_cap - 1); table[j].ptr; j = (j + 1) & (table_cap - 1)) {
        size_t home = slot_of(table[j].ptr, table_cap);
        if (((j - home) & (table_cap - 1)) >= ((j - i) & (table_cap - 1))) {
            table[i] = table[j];
            table[j].ptr = 0;
            i = j;
        }
    }
}

#define HUGE_PAGE ((size_t)2 << 20)

/* Under HAKMEM_HUGEPAGES a block of 2 MiB or more is 2 MiB aligned and a
 * multiple of it (so its cached pieces stay aligned): the alignment it needs,
 * else 0. */
static size_t huge_align(size_t len) { return len >= HUGE_PAGE && hak_option_u64(HAK_OPT_HUGEPAGES) ? HUGE_PAGE : 0; }

/* The mapped length of a block of n bytes (< n when n is impossibly large). */
static size_t block_len(size_t n)
{
    size_t unit = huge_align(n) ? HUGE_PAGE : HAK_OS_PAGE;
    return (n + unit - 1) & ~(unit - 1);
}

/* set by mallopt (hakmem_glibc.c); UINT64_MAX: unset */
static uint64_t cap_bytes = UINT64_MAX, unmap_from = UINT64_MAX;

static uint64_t cache_cap(void)
{
    uint64_t b = __atomic_load_n(&cap_bytes, __ATOMIC_RELAXED);
    return b != UINT64_MAX ? b : (uint64_t)HAK_KNOB_GET(large_cache_mb) << 20;
}

void hak_large_set_cache_bytes(uint64_t bytes)
{
    __atomic_store_n(&cap_bytes, bytes, __ATOMIC_RELAXED);
    hak_pageheap_set_bound(bytes);
}
void hak_large_set_unmap_from(uint64_t bytes) { __atomic_store_n(&unmap_from, bytes, __ATOMIC_RELAXED); }
static uint64_t decay_ns(void) { return HAK_KNOB_GET(hold_ms) * 1000000ull; }

/* ---- the cache (large_lock held) ---- */

static void cache_drop(int i, victims_t *out)
{
    if (out)
        out->v[out->n++] = cache[i];
    hak_large_cached_bytes -= cache[i].len;
    cache[i] = cache[--cache_n];
}

/* Pieces freed before `before` go to out. */
static void cache_expire(uint64_t before, victims_t *out)
{
    for (int i = 0; i < cache_n;)
        if (cache[i].freed_ns < before)
            cache_drop(i, out);
        else
            i++;
}

/* Keep a freed piece: joined with cached neighbours of its mapping, then the
 * oldest pieces leave while the cache is over its slots or bytes. */
static void cache_put(uintptr_t p, size_t len, uintptr_t base, uint64_t now, victims_t *out)
{
    uint64_t cap = cache_cap(), d = decay_ns();
    cache_expire(now > d ? now - d : 0, out);
    if (len > cap || len >= __atomic_load_n(&unmap_from, __ATOMIC_RELAXED)) {
        out->v[out->n++] = (piece_t){ p, len, base, now };
        return;
    }
    for (int i = 0; i < cache_n;) {
        piece_t *c = &cache[i];
        if (c->base == base && (c->ptr + c->len == p || p + len == c->ptr)) {
            p = c->ptr < p ? c->ptr : p;
            len += c->len;
            cache_drop(i, NULL);
            i = 0;
        } else {
            i++;
        }
    }
    cache[cache_n++] = (piece_t){ p, len, base, now };
    hak_large_cached_bytes += len;
    while (cache_n == CACHE_SLOTS || hak_large_cached_bytes > cap) {
        __atomic_fetch_add(&hak_global_counters.map_evictions, 1, __ATOMIC_RELAXED);
        int old = 0;
        for (int i = 1; i < cache_n; i++)
            if (cache[i].freed_ns < cache[old].freed_ns)
                old = i;
        hak_ghost_evicted(&ghost, cache[old].len, now);
        cache_drop(old, out);
    }
}

/* A piece for a block of len bytes: the smallest that holds it (split when
 * much bigger: the head goes out, the tail stays, where a growing block can
 * take it), else the biggest of at least half the length, which the caller
 * grows with mremap (its pages stay warm). */
static piece_t cache_take(size_t len, size_t align)
{
    int fit = -1, part = -1;
    for (int i = 0; i < cache_n; i++) {
        size_t l = cache[i].len;
        if (align && cache[i].ptr % align)
            continue;
        if (l >= len && (fit < 0 || l < cache[fit].len))
            fit = i;
        else if (l < len && l >= len / 2 && (part < 0 || l > cache[part].len))
            part = i;
    }
    piece_t got = { 0, 0, 0, 0 };
    int i = fit >= 0 ? fit : part;
    if (i < 0)
        return got;
    got = cache[i];
    if (fit >= 0 && got.len - len >= SPLIT_MIN(len)) {
        got.len = len;
        cache[i].ptr += len;
        cache[i].len -= len;
        hak_large_cached_bytes -= len;
    } else {
        cache_drop(i, NULL);
    }
    return got;
}

/* Returns the pages given back. */
static size_t unmap_victims(const victims_t *out)
{
    size_t pages = 0;
    for (int i = 0; i < out->n; i++) {
        hak_os_unmap((void *)out->v[i].ptr, out->v[i].len);
        pages += out->v[i].len / HAK_OS_PAGE;
    }
    if (pages)
        __atomic_fetch_add(&hak_global_counters.pages_released_maps, pages, __ATOMIC_RELAXED);
    return pages;
}

/* ---- blocks ---- */

/* The OS refused memory (RLIMIT_AS, the commit limit): cached pieces hold
 * address space and commit charge, so they go and the call is tried once more. */
static void *large_map(size_t len, size_t align)
{
    void *p = align > HAK_OS_PAGE ? hak_os_map_aligned(len, align) : hak_os_map(len);
    if (!p && hak_large_release_cache())
        p = align > HAK_OS_PAGE ? hak_os_map_aligned(len, align) : hak_os_map(len);
    return p;
}

static void count_live(size_t len)
{
    __atomic_fetch_add(&hak_large_live_bytes, len, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_large_live_count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.large_allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.large_alloc_bytes, len, __ATOMIC_RELAXED);
}

/* The page heap takes a block below HAK_PH_MAX (with its alignment slack)
 * and below mallopt(M_MMAP_THRESHOLD), whose blocks are mappings of their
 * own, unmapped when freed. */
static int heap_takes(size_t len, size_t align)
{
    size_t need = len + (align > HAK_OS_PAGE ? align : 0);
    return need >= len && need < HAK_PH_MAX && len < __atomic_load_n(&unmap_from, __ATOMIC_RELAXED);
}

/* The page heap's purge pass runs on the Large call that finds it due. */
static void heap_purge_if_due(void)
{
    uint64_t now = hak_now_ns();
    if (hak_pageheap_pass_due(now))
        hak_large_decay(now);
}

static void *heap_alloc(size_t len, size_t align, int zero)
{
    void *p = hak_pageheap_alloc(len, align, zero);
    if (!p && hak_large_release_cache())
        p = hak_pageheap_alloc(len, align, zero);
    if (p) {
        count_live(len);
        heap_purge_if_due();
    }
    return p;
}

/* A mapping of its own: a cached piece (grown with mremap when it is short),
 * else a new mapping. */
static void *map_alloc(size_t len, size_t align, size_t huge, int zero)
{
    piece_t got = { 0, 0, 0, 0 };
    if (align <= HAK_OS_PAGE) {
        hak_lock(&large_lock, &hak_global_counters);
        got = cache_take(len, huge);
        if (!got.ptr)
            hak_ghost_miss(&ghost, len, hak_now_ns());
        hak_unlock(&large_lock);
    }
    __atomic_fetch_add(got.ptr ? &hak_global_counters.map_hits : &hak_global_counters.map_misses, 1,
                       __ATOMIC_RELAXED);
    void *p = NULL;
    uintptr_t base = 0;
    size_t dirty = 0;             /* bytes that may hold old contents */
    if (got.ptr && got.len < len) {
        p = hak_os_remap((void *)got.ptr, got.len, len, huge);
        if (p) {
            base = (uintptr_t)p == got.ptr ? got.base : (uintptr_t)p;
            dirty = got.len;
            if (huge)
                hak_os_hugepages(p, len, 1);   /* the piece may come from a smaller block */
        } else {
            hak_os_unmap((void *)got.ptr, got.len);
        }
    } else if (got.ptr) {
        p = (void *)got.ptr;
        len = got.len;
        base = got.base;
        dirty = len;
    }
    if (!p) {
        p = large_map(len, align > huge ? align : huge);
        base = (uintptr_t)p;
        if (p && huge)
            hak_os_hugepages(p, len, 1);
    }
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    if (zero && dirty)
        memset(p, 0, dirty);      /* the rest is fresh from the kernel */
    hak_lock(&large_lock, &hak_global_counters);
    int ok = table_insert((uintptr_t)p, len, base, 0);
    hak_unlock(&large_lock);
    if (!ok) {
        hak_os_unmap(p, len);
        errno = ENOMEM;
        return NULL;
    }
    count_live(len);
    return p;
}

static void *block_alloc(size_t size, size_t align, int zero)
{
    size_t len = block_len(size);
    if (len < size || len > ((size_t)1 << 47)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t huge = huge_align(len), a = align > huge ? align : huge;
    void *p = heap_takes(len, a) ? heap_alloc(len, a, zero) : NULL;
    return p ? p : map_alloc(len, align, huge, zero);
}

void *hak_large_alloc_mapping(size_t size)
{
    size_t len = block_len(size);
    if (len < size || len > ((size_t)1 << 47)) {
        errno = ENOMEM;
        return NULL;
    }
    return map_alloc(len, 0, huge_align(len), 0);
}

static void count_freed(size_t len)
{
    __atomic_fetch_sub(&hak_large_live_bytes, len, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&hak_large_live_count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.large_frees, 1, __ATOMIC_RELAXED);
}

static int block_free(void *p)
{
    hak_span_t *sp = hak_span_of((uintptr_t)p);
    size_t len = hak_pageheap_owns(sp) ? hak_pageheap_free(sp, p) : 0;
    if (len) {
        count_freed(len);
        heap_purge_if_due();
        return 1;
    }
    /* else a mapping, maybe one that mmap placed in a hole a block moved out
     * of a region left (hak_pageheap_move_out): the registry knows */
    victims_t out;
    out.n = 0;
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    if (!e) {
        hak_unlock(&large_lock);
        return 0;
    }
    entry_t b = *e;
    table_remove(e);
    cache_put(b.ptr, b.len, b.base, hak_now_ns(), &out);
    hak_unlock(&large_lock);
    unmap_victims(&out);
    count_freed(b.len);
    return 1;
}

int hak_large_room(void)
{
    /* read once; racing first readers compute the same value (atomic: no torn
     * read, and TSan sees it) */
    static uint64_t limit;
    uint64_t lim = __atomic_load_n(&limit, __ATOMIC_RELAXED);
    if (!lim) {
        char buf[32];
        const char *end;
        int ok = 0;
        uint64_t m = 0;
        if (hak_os_read_file("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0)
            m = hak_parse_u64(buf, &end, &ok);
        lim = ok && m >= 1024 ? m / 4 : 16384;   /* the kernel's default is 65530 */
        __atomic_store_n(&limit, lim, __ATOMIC_RELAXED);
    }
    /* secure: a block and its two guard pages split a mapping into three */
    return __atomic_load_n(&hak_large_live_count, __ATOMIC_RELAXED) * (HAK_SECURE ? 3 : 1) < lim;
}

static size_t block_usable(const void *p)
{
    hak_span_t *sp = hak_span_of((uintptr_t)p);
    size_t n = hak_pageheap_owns(sp) ? hak_pageheap_usable(sp, p) : 0;
    if (n)
        return n;
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    size_t len = e ? e->len : 0;
    hak_unlock(&large_lock);
    return len;
}

#if HAK_SECURE
/* The secure build: a Large block of n bytes lies between two guard pages,
 *     [guard | n bytes, canary bytes ..., trailer | guard]
 * inside one block of the page heap or of a mapping: the front guard is the
 * page before the block (align > 4 KiB: the last page of one align unit at
 * the start), the rear guard the last page of the block below, whatever its
 * length.  The trailer holds n and the unit before the block, checked
 * against the address and the secret; every byte between n and the trailer
 * is a canary; all are checked at free.  While the live blocks are too many
 * for three mappings each (hak_large_room), a block gets no guard pages: its
 * canary and trailer remain. */
#define TRAILER 16

static uint64_t large_key(uintptr_t p) { return (p * 0xff51afd7ed558ccdull) ^ hak_secrets.canary; }

/* Canary byte i of the block at p is byte i % 8 of its key: whole words
 * where they are aligned. */
static void canary_fill(char *p, size_t from, size_t to)
{
    uint64_t k = large_key((uintptr_t)p);
    size_t i = from;
    for (; i < to && (i & 7); i++)
        p[i] = (char)(k >> (8 * (i & 7)));
    for (; i + 8 <= to; i += 8)
        *(uint64_t *)(p + i) = k;
    for (; i < to; i++)
        p[i] = (char)(k >> (8 * (i & 7)));
}

static int canary_fill_ok(const char *p, size_t from, size_t to)
{
    uint64_t k = large_key((uintptr_t)p), bad = 0;
    size_t i = from;
    for (; i < to && (i & 7); i++)
        bad |= (uint8_t)p[i] ^ (uint8_t)(k >> (8 * (i & 7)));
    for (; i + 8 <= to; i += 8)
        bad |= *(const uint64_t *)(p + i) ^ k;
    for (; i < to; i++)
        bad |= (uint8_t)p[i] ^ (uint8_t)(k >> (8 * (i & 7)));
    return bad == 0;
}

void *hak_large_alloc(size_t size, size_t align, int zero)
{
    size_t unit = align > HAK_OS_PAGE ? align : HAK_OS_PAGE;
    size_t total = size + TRAILER + unit + HAK_OS_PAGE;
    if (total < size || total > ((size_t)1 << 47)) {
        errno = ENOMEM;
        return NULL;
    }
    int guard = hak_large_room();
    char *base = block_alloc(total, align > HAK_OS_PAGE ? align : 0, zero);
    if (!base)
        return NULL;
    char *p = base + unit;
    size_t body = block_usable(base) - unit - HAK_OS_PAGE;
    uint64_t k = large_key((uintptr_t)p);
    canary_fill(p, size, body - TRAILER);
    uint64_t *t = (uint64_t *)(p + body - TRAILER);
    t[0] = size ^ k;
    t[1] = unit ^ ~k;
    if (guard) {
        hak_os_protect(p - HAK_OS_PAGE, HAK_OS_PAGE, HAK_OS_PROT_NONE);
        hak_os_protect(p + body, HAK_OS_PAGE, HAK_OS_PROT_NONE);
    }
    return p;
}

/* The unit before p of the block below that holds p (its size in *n, the
 * length up to the rear guard in *body), 0 when p is no secure Large block
 * start, SIZE_MAX when its trailer was overwritten.  Units are tried upward:
 * the smaller ones fall inside p's own block, where no other block starts. */
static size_t find_unit(const void *p, size_t *n, size_t *body)
{
    uintptr_t a = (uintptr_t)p;
    if (!a || a % HAK_OS_PAGE)
        return 0;
    for (size_t unit = HAK_OS_PAGE; unit <= a && (a & (unit - 1)) == 0; unit <<= 1) {
        size_t total = block_usable((const void *)(a - unit));
        if (!total)
            continue;
        if (total < unit + TRAILER + HAK_OS_PAGE)
            return 0;
        *body = total - unit - HAK_OS_PAGE;
        uintptr_t k = large_key(a);
        const uint64_t *t = (const uint64_t *)(a + *body - TRAILER);
        *n = t[0] ^ k;
        return (t[1] ^ ~k) == unit && *n <= *body - TRAILER ? unit : SIZE_MAX;
    }
    return 0;
}

int hak_large_free(void *p)
{
    size_t n, body, unit = find_unit(p, &n, &body);
    if (!unit)
        return 0;
    char *c = p;
    if (unit == SIZE_MAX)
        hak_report_overflow("free()", p, 0);
    if (!canary_fill_ok(c, n, body - TRAILER))
        hak_report_overflow("free()", p, n);
    hak_os_protect(c - HAK_OS_PAGE, HAK_OS_PAGE, HAK_OS_PROT_RW);
    hak_os_protect(c + body, HAK_OS_PAGE, HAK_OS_PROT_RW);
    return block_free(c - unit);
}

int hak_large_set_request(void *p, size_t n)
{
    size_t old, body, unit = find_unit(p, &old, &body);
    if (!unit || unit == SIZE_MAX || n > body - TRAILER || n < body / 2)
        return 0;
    char *c = p;
    uint64_t k = large_key((uintptr_t)p), *t = (uint64_t *)(c + body - TRAILER);
    if (!canary_fill_ok(c, old, body - TRAILER))
        hak_report_overflow("realloc()", p, old);
    canary_fill(c, n, n < old ? old : n);   /* bytes the request gave up are canary again */
    t[0] = n ^ k;
    return 1;
}

size_t hak_large_request(const void *p, const char *call)
{
    size_t n, body, unit = find_unit(p, &n, &body);
    if (unit == SIZE_MAX)
        hak_report_overflow(call, p, 0);
    return unit ? n : SIZE_MAX;
}

size_t hak_large_usable(const void *p)
{
    size_t n = hak_large_request(p, "malloc_usable_size()");
    return n == SIZE_MAX ? 0 : n;
}
#else
void *hak_large_alloc(size_t size, size_t align, int zero) { return block_alloc(size, align, zero); }
int hak_large_free(void *p) { return block_free(p); }
size_t hak_large_usable(const void *p) { return block_usable(p); }
#endif

/* Grow into the cached piece that starts where the block ends (the tail of a
 * split, or a freed neighbour of the same mapping): no system call, warm
 * pages.  0 when there is none big enough (large_lock held). */
static int grow_into_cache(entry_t *e, size_t len)
{
    size_t need = len - e->len;
    for (int i = 0; i < cache_n; i++) {
        piece_t *c = &cache[i];
        if (c->base == e->base && c->ptr == e->ptr + e->len && c->len >= need) {
            if (c->len - need < SPLIT_MIN(len))
                need = c->len;     /* the rest would be a crumb: take it all */
            c->ptr += need;
            c->len -= need;
            hak_large_cached_bytes -= need;
            if (!c->len)
                cache_drop(i, NULL);
            e->len += need;
            return 1;
        }
    }
    return 0;
}

/* A page heap block: resized in place, else moved into a mapping of its own
 * (mremap, no copy), where the next growth is an mremap too. */
static void *heap_resize(hak_span_t *sp, void *p, size_t old, size_t len)
{
    if (len < HAK_PH_MAX && hak_pageheap_resize(sp, p, len)) {
        __atomic_fetch_add(&hak_large_live_bytes, len - old, __ATOMIC_RELAXED);   /* wraps for a shrink */
        return p;
    }
    if (!hak_large_room())
        return NULL;
    size_t huge = huge_align(len);
    void *q = hak_pageheap_move_out(sp, p, len, huge);
    if (!q)
        return NULL;
    if (huge)
        hak_os_hugepages(q, len, 1);
    hak_lock(&large_lock, &hak_global_counters);
    table_insert((uintptr_t)q, len, (uintptr_t)q, 1);
    hak_unlock(&large_lock);
    __atomic_fetch_add(&hak_global_counters.map_remaps, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_large_live_bytes, len - old, __ATOMIC_RELAXED);
    return q;
}

/* Shrink a mapping's block in place: the tail is a freed piece (cached, or
 * unmapped when larger than the cache).  Called with large_lock held; drops it. */
static void *map_shrink(entry_t *e, size_t len)
{
    victims_t out = { .n = 0 };
    entry_t b = *e;
    if (len < b.len) {
        e->len = len;
        cache_put(b.ptr + len, b.len - len, b.base, hak_now_ns(), &out);
    }
    hak_unlock(&large_lock);
    unmap_victims(&out);
    __atomic_fetch_sub(&hak_large_live_bytes, b.len - len, __ATOMIC_RELAXED);
    return (void *)b.ptr;
}

void *hak_large_resize(void *p, size_t size)
{
    size_t len = block_len(size);
    hak_span_t *sp = hak_span_of((uintptr_t)p);
    if (len < size) {
        errno = ENOMEM;
        return NULL;
    }
    size_t held = hak_pageheap_owns(sp) ? hak_pageheap_usable(sp, p) : 0;
    if (held)
        return heap_resize(sp, p, held, len);
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    if (!e) {
        hak_unlock(&large_lock);
        return NULL;
    }
    entry_t b = *e;
    if (len <= b.len)
        return map_shrink(e, len);
    size_t huge = huge_align(len);
    if ((!huge || b.ptr % huge == 0) && grow_into_cache(e, len)) {
        size_t got = e->len - b.len;
        hak_unlock(&large_lock);
        __atomic_fetch_add(&hak_large_live_bytes, got, __ATOMIC_RELAXED);
        return p;
    }
    /* mremap with the lock dropped: the block is out of the registry meanwhile
     * (only a racing call on the same block, itself a bug, could notice) */
    table_remove(e);
    hak_unlock(&large_lock);
    size_t old = b.len;
    void *q = hak_os_remap(p, old, len, huge);
    if (!q && hak_large_release_cache())
        q = hak_os_remap(p, old, len, huge);
    if (q && huge && !huge_align(old))
        hak_os_hugepages(q, len, 1);   /* it has grown past 2 MiB */
    if (q) {
        __atomic_fetch_add(&hak_global_counters.map_remaps, 1, __ATOMIC_RELAXED);
        b = (entry_t){ (uintptr_t)q, len, q == p ? b.base : (uintptr_t)q };
    }
    hak_lock(&large_lock, &hak_global_counters);
    table_insert(b.ptr, b.len, b.base, 1);   /* cannot fail: see table_insert */
    hak_unlock(&large_lock);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    __atomic_fetch_add(&hak_large_live_bytes, len - old, __ATOMIC_RELAXED);
    return q;
}

static size_t cache_release(uint64_t before)
{
    victims_t out;
    out.n = 0;
    hak_lock(&large_lock, &hak_global_counters);
    cache_expire(before, &out);
    hak_unlock(&large_lock);
    return unmap_victims(&out);
}

size_t hak_large_decay(uint64_t now)
{
    uint64_t d = decay_ns();
    return cache_release(now > d ? now - d : 0) + hak_pageheap_purge(now, 0);
}

size_t hak_large_release_cache(void) { return cache_release(UINT64_MAX) + hak_pageheap_purge(hak_now_ns(), 1); }

void hak_large_lock_all(void)
{
    hak_pageheap_lock();
    pthread_mutex_lock(&large_lock.m);
}
void hak_large_unlock_all(void)
{
    pthread_mutex_unlock(&large_lock.m);
    hak_pageheap_unlock();
}
void hak_large_reinit_locks(void)
{
    hak_lock_reinit(&large_lock);
    hak_pageheap_reinit_lock();
}
