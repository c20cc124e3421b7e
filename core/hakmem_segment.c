/* Segments, spans and their free-block bitmaps (see hakmem_segment.h). */
#include "hakmem_segment.h"
#include "hakmem_size_class.h"
#include "hakmem_lock.h"
#include "hakmem_options.h"
#include <string.h>

_Static_assert(sizeof(hak_segment_t) <= HAK_PAGE_SIZE, "segment header must fit page 0");
_Static_assert(sizeof(hak_span_t) <= sizeof hak_pagemap_zero, "the zero leaf doubles as the invalid span");

uintptr_t hak_pagemap_top[1u << HAK_PM_TOP_BITS];
uintptr_t hak_pagemap_zero[1u << HAK_PM_LEAF_BITS] __attribute__((aligned(64)));   /* never written */
uint64_t hak_bytes_spans, hak_bytes_released, hak_bytes_spans_peak, hak_bytes_segments;
uint64_t hak_class_blocks[HAK_NCLASS];

static hak_lock_t seg_lock = HAK_LOCK_INIT;
static hak_segment_t *segments;

uint32_t hak_span_pages_for_class(int cls)
{
    if (hak_is_tiny_class(cls))
        return 1;
    uint64_t pages = ((uint64_t)hak_class_size[cls] * 16 + HAK_PAGE_SIZE - 1) >> HAK_PAGE_SHIFT;
    return pages > HAK_SPAN_MAX_PAGES ? HAK_SPAN_MAX_PAGES : (uint32_t)pages;
}

/* The leaf entry of address a, its leaf mapped on first use (seg_lock held). */
static uintptr_t *pagemap_slot(uintptr_t a)
{
    uintptr_t *top = &hak_pagemap_top[(a >> 32) & ((1u << HAK_PM_TOP_BITS) - 1)];
    if (!*top) {
        uintptr_t *leaf = hak_os_map(sizeof hak_pagemap_zero);
        if (!leaf)
            return NULL;
        __atomic_store_n(top, (uintptr_t)leaf - (uintptr_t)hak_pagemap_zero, __ATOMIC_RELEASE);
    }
    uintptr_t *leaf = (uintptr_t *)((uintptr_t)hak_pagemap_zero + *top);
    return &leaf[(a >> HAK_PAGE_SHIFT) & ((1u << HAK_PM_LEAF_BITS) - 1)];
}

/* Point the map entries of the span's pages at sp (or at hak_span_invalid). */
static void pagemap_set(hak_span_t *sp, hak_span_t *to)
{
    uintptr_t e = (uintptr_t)to - (uintptr_t)hak_pagemap_zero;
    uintptr_t *slot = pagemap_slot(sp->start);   /* a segment lies in one leaf: mapped when it was made */
    for (uint32_t i = 0; i < sp->pages; i++)
        __atomic_store_n(&slot[i], e, __ATOMIC_RELEASE);
}

int hak_pagemap_set_range(uintptr_t start, size_t len, hak_span_t *to)
{
    uintptr_t e = (uintptr_t)to - (uintptr_t)hak_pagemap_zero;
    hak_lock(&seg_lock, &hak_global_counters);
    for (uintptr_t a = start; a < start + len; a += HAK_PAGE_SIZE) {
        uintptr_t *slot = pagemap_slot(a);
        if (!slot) {
            hak_unlock(&seg_lock);
            return 0;
        }
        __atomic_store_n(slot, e, __ATOMIC_RELEASE);
    }
    hak_unlock(&seg_lock);
    return 1;
}

static hak_segment_t *segment_of(const hak_span_t *sp)
{
    return (hak_segment_t *)(sp->start & ~(HAK_SEG_SIZE - 1));
}

/* a new or wholly free segment: huge pages if asked for (seg_lock held) */
static void segment_huge(hak_segment_t *seg)
{
    if (hak_option_u64(HAK_OPT_HUGEPAGES) && !seg->huge) {
        hak_os_hugepages(seg, HAK_SEG_SIZE, 1);
        __atomic_store_n(&seg->huge, 1, __ATOMIC_RELAXED);
    }
}

void hak_span_release_range(const hak_span_t *sp, void *p, size_t n)
{
    hak_segment_t *seg = segment_of(sp);
    if (__atomic_load_n(&seg->huge, __ATOMIC_RELAXED) && __atomic_exchange_n(&seg->huge, 0, __ATOMIC_RELAXED))
        hak_os_hugepages(seg, HAK_SEG_SIZE, 0);
    hak_os_release(p, n);
}

#if HAK_SECURE
/* The size map of a segment's spans: out of line, between two guard pages,
 * so an overflow out of a block cannot reach it. */
#define SIZES_BYTES ((size_t)HAK_SEG_PAGES * HAK_SPAN_MAX_BLOCKS * sizeof(uint16_t))
static uint16_t *sizes_map(void) { return hak_os_map_guarded(SIZES_BYTES); }
#endif

/* The OS pages of page 0 the header needs: the rest of page 0 is the guard
 * below the first span (none where an OS page is as large as page 0). */
static size_t header_bytes(void)
{
    size_t pg = hak_os_page_size();
    return (sizeof(hak_segment_t) + pg - 1) & ~(pg - 1);
}

static hak_segment_t *segment_new(void)
{
    hak_segment_t *seg = hak_os_reserve_aligned(HAK_SEG_SIZE, HAK_SEG_SIZE);
    if (!seg)
        return NULL;
    if (hak_os_protect(seg, header_bytes(), HAK_OS_PROT_RW) || !pagemap_slot((uintptr_t)seg)) {
        hak_os_unmap(seg, HAK_SEG_SIZE);
        return NULL;
    }
#if HAK_SECURE
    if (!(seg->sizes = sizes_map())) {
        hak_os_unmap(seg, HAK_SEG_SIZE);
        return NULL;
    }
#endif
    seg->top = 1;
    seg->free_pages = ~1ull;   /* page 0 is the header */
    seg->next = segments;
    __atomic_store_n(&segments, seg, __ATOMIC_RELEASE);   /* statistics walk without the lock */
    __atomic_fetch_add(&hak_bytes_segments, HAK_SEG_SIZE, __ATOMIC_RELAXED);
    return seg;
}

/* first run of n free pages, or -1 */
static int segment_find_run(const hak_segment_t *seg, uint32_t n)
{
    uint64_t want = n == 64 ? ~0ull : ((1ull << n) - 1);
    for (uint32_t i = 1; i + n <= HAK_SEG_PAGES; i++)
        if (((seg->free_pages >> i) & want) == want)
            return (int)i;
    return -1;
}

/* Pages below `end` read-write (seg_lock held): the high-water mark rises
 * to end (under HAKMEM_HUGEPAGES to the end of end's half).  0 when the OS
 * refuses (the commit limit, the map count). */
static int segment_reach(hak_segment_t *seg, uint32_t end)
{
    if (end <= seg->top)
        return 1;
    if (hak_option_u64(HAK_OPT_HUGEPAGES))
        end = end <= HAK_SEG_PAGES / 2 ? HAK_SEG_PAGES / 2 : HAK_SEG_PAGES;
    if (hak_os_protect((char *)seg + ((size_t)seg->top << HAK_PAGE_SHIFT), (size_t)(end - seg->top) << HAK_PAGE_SHIFT,
                       HAK_OS_PROT_RW))
        return 0;
    seg->top = end;
    return 1;
}

hak_span_t *hak_span_alloc(int cls, hak_counters_t *cnt)
{
    uint32_t pages = hak_span_pages_for_class(cls);
    hak_lock(&seg_lock, cnt);
    hak_segment_t *seg;
    int pi = -1;
    for (seg = segments; seg; seg = seg->next)
        if ((pi = segment_find_run(seg, pages)) >= 0)
            break;
    if (!seg) {
        seg = segment_new();
        if (!seg) {
            hak_unlock(&seg_lock);
            return NULL;
        }
        pi = 1;
    }
    if (!segment_reach(seg, (uint32_t)pi + pages)) {
        hak_unlock(&seg_lock);
        return NULL;
    }
    if (seg->free_pages == ~1ull)
        segment_huge(seg);
    hak_span_t *sp = &seg->spans[pi];
    uint64_t mask = pages == 64 ? ~0ull : ((1ull << pages) - 1);
    seg->free_pages &= ~(mask << pi);
    uint32_t bsize = hak_class_size[cls];
    memset(sp, 0, offsetof(hak_span_t, freemap));
    sp->start = (uintptr_t)seg + ((uintptr_t)pi << HAK_PAGE_SHIFT);
    sp->bsize = bsize;
    sp->cls = (uint8_t)cls;
    sp->owner_mask = hak_is_tiny_class(cls) ? ~(uintptr_t)0 : 0;
    sp->pages = pages;
    sp->capacity = (uint32_t)((pages * HAK_PAGE_SIZE) / bsize);
    if (sp->capacity > HAK_SPAN_MAX_BLOCKS)
        sp->capacity = HAK_SPAN_MAX_BLOCKS;
    sp->div_magic = UINT64_MAX / bsize + 1;
    sp->div_mul = (uint32_t)((((uint64_t)1 << 32) + bsize - 1) / bsize);
    uint32_t words = (sp->capacity + 63) / 64;
    memset(sp->freemap, 0xff, words * 8);
#if HAK_SECURE
    sp->sizes = seg->sizes + (size_t)pi * HAK_SPAN_MAX_BLOCKS;
    memset(sp->sizes, 0, sp->capacity * sizeof(uint16_t));
#endif
    if (sp->capacity % 64)
        sp->freemap[words - 1] = (1ull << (sp->capacity % 64)) - 1;
    /* limit stays 0 (cleared above) until the first take raises it */
    pagemap_set(sp, sp);
    uint64_t held = __atomic_add_fetch(&hak_bytes_spans, (uint64_t)pages * HAK_PAGE_SIZE, __ATOMIC_RELAXED);
    if (held > hak_bytes_spans_peak)   /* written under seg_lock only */
        __atomic_store_n(&hak_bytes_spans_peak, held, __ATOMIC_RELAXED);
    hak_unlock(&seg_lock);
    __atomic_fetch_add(&hak_class_blocks[cls], sp->capacity, __ATOMIC_RELAXED);
    return sp;
}

void hak_span_free(hak_span_t *sp, hak_counters_t *cnt)
{
    hak_segment_t *seg = segment_of(sp);
    uint32_t pi = (uint32_t)((sp->start - (uintptr_t)seg) >> HAK_PAGE_SHIFT);
    size_t bytes = (size_t)sp->pages * HAK_PAGE_SIZE;
    hak_span_release_range(sp, (void *)sp->start, bytes);
    hak_cnt_add(cnt, &cnt->pages_released_spans, bytes / HAK_OS_PAGE - sp->nreleased);
    __atomic_fetch_sub(&hak_bytes_spans, bytes, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&hak_bytes_released, (uint64_t)sp->nreleased * HAK_OS_PAGE, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&hak_class_blocks[sp->cls], sp->capacity, __ATOMIC_RELAXED);
    hak_lock(&seg_lock, cnt);
    pagemap_set(sp, HAK_SPAN_INVALID);
    __atomic_store_n(&sp->limit, 0, __ATOMIC_RELEASE);
    uint64_t mask = sp->pages == 64 ? ~0ull : ((1ull << sp->pages) - 1);
    seg->free_pages |= mask << pi;
    hak_unlock(&seg_lock);
}

void hak_segments_foreach_span(void (*fn)(const hak_span_t *, void *), void *arg)
{
    for (hak_segment_t *seg = __atomic_load_n(&segments, __ATOMIC_ACQUIRE); seg; seg = seg->next)
        for (int i = 1; i < HAK_SEG_PAGES; i++)
            if (__atomic_load_n(&seg->spans[i].limit, __ATOMIC_RELAXED))
                fn(&seg->spans[i], arg);
}

void hak_segments_foreach_desc(void (*fn)(hak_span_t *, void *), void *arg)
{
    for (hak_segment_t *seg = segments; seg; seg = seg->next)
        for (int i = 1; i < HAK_SEG_PAGES; i++)
            fn(&seg->spans[i], arg);
}

void hak_segment_lock_all(void) { pthread_mutex_lock(&seg_lock.m); }
void hak_segment_unlock_all(void) { pthread_mutex_unlock(&seg_lock.m); }
void hak_segment_reinit_locks(void) { hak_lock_reinit(&seg_lock); }
