/* Segments and spans: the one pointer -> metadata rule for Tiny and Mid.
 * A segment is 4 MiB, 4 MiB aligned, made of 64 pages of 64 KiB; page 0 holds
 * the segment header with one span descriptor per page.  A span is a run of
 * pages carved into blocks of one class; its free blocks are a bitmap in the
 * descriptor (never links inside the blocks, so any free page can be released).
 * A two-level page map gives the span of any 64 KiB page in one dependent
 * load per level; a page hakmem does not own maps to hak_span_invalid, so a
 * foreign pointer is recognised without touching its memory. */
#ifndef HAK_SEGMENT_H
#define HAK_SEGMENT_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_os.h"
#include "hakmem_counters.h"
#include "hakmem_size_class.h"

#ifndef HAK_SECURE
#define HAK_SECURE 0
#endif

#define HAK_SEG_SHIFT   22
#define HAK_SEG_SIZE    (1ul << HAK_SEG_SHIFT)
#define HAK_PAGE_SHIFT  16
#define HAK_PAGE_SIZE   (1ul << HAK_PAGE_SHIFT)
#define HAK_SEG_PAGES   64
#define HAK_SPAN_MAX_PAGES    32
#define HAK_SPAN_MAX_BLOCKS   4096
#define HAK_SPAN_MAX_OSPAGES  (HAK_SPAN_MAX_PAGES * (HAK_PAGE_SIZE / HAK_OS_PAGE))

enum { HAK_LIST_NONE, HAK_LIST_AVAIL, HAK_LIST_SPARSE, HAK_LIST_FULL };

/* Remote frees: blocks linked (hak_link_set); the list head is
 * tagged with the number of blocks on it (bits 48..63), so one CAS pushes a
 * chain and counts it. */
#define HAK_RHEAD_SHIFT 48
#define HAK_RHEAD_PTR(v)   ((void *)((v) & ((1ull << HAK_RHEAD_SHIFT) - 1)))
#define HAK_RHEAD_COUNT(v) ((uint32_t)((v) >> HAK_RHEAD_SHIFT))

struct hak_heap;
typedef struct hak_span hak_span_t;
struct hak_span {
    /* read by free()'s fast path; written only when the span is set up,
     * adopted or abandoned */
    uintptr_t start;       /* block 0 */
    uint64_t  limit;       /* end of the highest block ever handed out (0 when the
                            * span is not in use, or no block has left it yet) */
    uint64_t  div_magic;   /* off divisible by bsize <=> off * div_magic < div_magic */
    struct hak_heap *owner;   /* Tiny: the owning heap (NULL = abandoned); Mid: NULL */
    uintptr_t owner_mask;  /* ~0 for Tiny (free compares the owner), 0 for Mid */
    uint32_t  bsize;
    uint32_t  div_mul;     /* index = (off * div_mul) >> 32 for multiples of bsize */
    uint32_t  capacity;
    uint8_t   cls;
    uint8_t   shard;       /* Mid: central shard that owns the bitmap */
    uint8_t   abandoned;   /* Tiny: on the abandoned lists, waiting for adoption */
    uint8_t   pageheap;    /* 1: a page heap region's descriptor (limit 0, cls 0) */
#if HAK_SECURE
    uint16_t *sizes;       /* per block: bsize - requested size in use, 0 free (hakmem_secure.h) */
#endif
    /* owner side, under the owner's lock (a heap for Tiny, a shard for Mid) */
    uint8_t   list __attribute__((aligned(64)));   /* HAK_LIST_* */
    uint8_t   clean;       /* every free page of the span is released */
    uint8_t   aged;        /* sparse and not allocated from since the last maintenance pass */
    hak_span_t *next, *prev;
    uint32_t  used, pages, scan;
    uint32_t  nreleased;   /* OS pages of this span given back while it is in use */
    uint64_t  released_ns; /* when the last of them went back */
    uint64_t  released[HAK_SPAN_MAX_OSPAGES / 64];
    uint64_t  freemap[HAK_SPAN_MAX_BLOCKS / 64];
    /* written by remote freers; kept across reuse of the descriptor (a late
     * freer may still touch `queued`), never cleared by hak_span_alloc */
    uint64_t  rhead __attribute__((aligned(64)));  /* tagged head, HAK_RHEAD_* */
    hak_span_t *pnext;     /* link on an inbox or a watch list */
    uint32_t  queued;      /* 1 while on an inbox or a watch list */
};

/* A segment is mapped PROT_NONE and made read-write as it is used: the OS
 * pages of the header, then pages 1 .. top - 1 as spans first reach them (a
 * high-water mark, raised under seg_lock; under HAKMEM_HUGEPAGES by halves,
 * 2 MiB at a time, so the upper half can be one huge page).  The rest of page
 * 0 after the header stays PROT_NONE, a guard between the descriptors and the
 * first span, and so do the pages above the mark: a span's underflow cannot
 * reach the descriptors, and nothing reads or writes memory no span used. */
typedef struct hak_segment {
    uint64_t free_pages;                    /* bit i: page i is in no span */
    struct hak_segment *next;
    uint32_t huge;                          /* MADV_HUGEPAGE in force (HAKMEM_HUGEPAGES) */
    uint32_t top;                           /* pages [top, HAK_SEG_PAGES) are PROT_NONE (seg_lock) */
#if HAK_SECURE
    uint16_t *sizes;                        /* HAK_SPAN_MAX_BLOCKS entries per page, behind guard pages */
#endif
    hak_span_t spans[HAK_SEG_PAGES];        /* descriptor of the span starting at page i */
} hak_segment_t;

/* The page map: top[a >> 32] is the byte offset of a leaf from
 * hak_pagemap_zero (a static leaf that stays all zero), and a leaf entry is
 * the byte offset of the page's span from the same base.  Zero means "not
 * hakmem's" at both levels, and the zero leaf itself, read as a span, has
 * limit 0 (HAK_SPAN_INVALID): every pointer fails the block test against it.
 * So the map needs no initialisation, and a lookup is two dependent loads
 * without a branch.  A leaf (512 KiB of address space, touched only where
 * segments are) is mapped per 4 GiB that holds a segment: no large
 * reservation (RLIMIT_AS, overcommit_memory=2). */
#define HAK_PM_TOP_BITS  16
#define HAK_PM_LEAF_BITS 16
extern uintptr_t hak_pagemap_top[1u << HAK_PM_TOP_BITS] __attribute__((visibility("hidden")));
extern uintptr_t hak_pagemap_zero[1u << HAK_PM_LEAF_BITS] __attribute__((visibility("hidden")));
#define HAK_SPAN_INVALID ((hak_span_t *)hak_pagemap_zero)
extern uint64_t hak_bytes_spans;      /* bytes of pages in spans in use */
extern uint64_t hak_bytes_released;   /* of those, bytes given back while in use */
extern uint64_t hak_bytes_spans_peak; /* the most hak_bytes_spans has been */
extern uint64_t hak_bytes_segments;   /* bytes of address space mapped as segments (never unmapped) */
extern uint64_t hak_class_blocks[HAK_NCLASS];   /* blocks in the spans of each class in use */

/* The span of a pointer's page (HAK_SPAN_INVALID when it is not in a span).
 * The top index is masked, so a non-canonical pointer reads some entry; the
 * block test against sp->start then fails because the offset is huge. */
static inline hak_span_t *hak_span_of(uintptr_t a)
{
    uintptr_t base = (uintptr_t)hak_pagemap_zero;
    uintptr_t leaf = __atomic_load_n(&hak_pagemap_top[(a >> 32) & ((1u << HAK_PM_TOP_BITS) - 1)], __ATOMIC_RELAXED);
    uintptr_t off = leaf + ((a >> HAK_PAGE_SHIFT) & ((1u << HAK_PM_LEAF_BITS) - 1)) * sizeof(uintptr_t);
    __asm__("" : "+r"(off));   /* keep base + off one addressing mode (gcc re-associates it otherwise) */
    uintptr_t e = __atomic_load_n((uintptr_t *)(base + off), __ATOMIC_ACQUIRE);
    return (hak_span_t *)(base + e);
}

/* A span's limit rises while other threads read it for blocks below it: an
 * aligned 64-bit store, never torn on x86-64, read with plain loads; under
 * TSan spelled as a relaxed atomic load so the tool sees the same contract
 * (the store is atomic). */
#if defined(__SANITIZE_THREAD__)
#define HAK_SPAN_LIMIT(sp) __atomic_load_n(&(sp)->limit, __ATOMIC_RELAXED)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAK_SPAN_LIMIT(sp) __atomic_load_n(&(sp)->limit, __ATOMIC_RELAXED)
#endif
#endif
#ifndef HAK_SPAN_LIMIT
#define HAK_SPAN_LIMIT(sp) ((sp)->limit)
#endif

/* A block start of an in-use span that was handed out at some time?  Takes
 * hand out the lowest free blocks first, so the blocks below `limit` (a
 * high-water mark) are exactly those ever handed out: a block start above it
 * fails here and on free()'s fast path at no cost. */
static inline int hak_span_is_block(const hak_span_t *sp, uintptr_t a)
{
    uint64_t off = a - sp->start;
    return off < HAK_SPAN_LIMIT(sp) && off * sp->div_magic < sp->div_magic;
}

static inline uint32_t hak_span_index(const hak_span_t *sp, uintptr_t a)
{
    return (uint32_t)(((a - sp->start) * (uint64_t)sp->div_mul) >> 32);
}

/* Pending remote frees of sp after which its owner collects them: the drain
 * threshold, at most half the span so large classes still drain. */
static inline uint32_t hak_span_drain_due(const hak_span_t *sp, uint32_t threshold)
{
    uint32_t half = sp->capacity / 2;
    uint32_t t = threshold < half ? threshold : half;
    return t ? t : 1;
}

/* Point the map entries of [start, start + len) (64 KiB aligned) at `to`, or
 * back at HAK_SPAN_INVALID: how a layer above spans (the page heap) makes its
 * own memory known.  0 when a leaf cannot be mapped. */
int hak_pagemap_set_range(uintptr_t start, size_t len, hak_span_t *to);

uint32_t hak_span_pages_for_class(int cls);
/* A new span for class cls with every block free (NULL when out of memory). */
hak_span_t *hak_span_alloc(int cls, hak_counters_t *cnt);
/* Give n bytes of sp's pages from p back to the OS.  Under HAKMEM_HUGEPAGES
 * the segment first leaves MADV_HUGEPAGE: khugepaged would otherwise fill the
 * released pages again (max_ptes_none 511 collapses a range with one page
 * present); it gets it back once it is wholly free and reused. */
void hak_span_release_range(const hak_span_t *sp, void *p, size_t n);
/* Give the (empty) span's pages back to the OS and to its segment. */
void hak_span_free(hak_span_t *sp, hak_counters_t *cnt);
/* Release up to max_pages OS pages of the span that hold no used block. */
size_t hak_span_release_free_pages(hak_span_t *sp, uint32_t max_pages, hak_counters_t *cnt);

/* The spans of one owner and class (a heap's Tiny class, a Mid shard, the
 * abandoned Tiny spans), under the owner's lock.  Refill takes blocks from
 * dense spans first, so sparse ones can empty out and be released. */
#define HAK_EMPTY_RESERVE     1          /* empty spans a heap (per Tiny class) or a Mid shard keeps */
#define HAK_EMPTY_WAITING     8          /* more empty spans wait for a pass before release */
#define HAK_RELEASE_PERIOD_NS 10000000ull /* at most one maintenance pass per owner per 10 ms */
#define HAK_RELEASE_PASS_NS   500000ull   /* and at most 0.5 ms of it (5 %) */
/* A span sparse for a whole period and at most 1/sparse_div used (the
 * sparse_div knob, HAKMEM_SPARSE_BLOCK_DIV) gives back the pages under each
 * block returned to it.  Measured (mid_mt 4 threads / fragment_stress peak
 * RSS): 2: 65-78 M ops/s / 406 MiB, 4: 77-87 / 432, 8: 76-89 / 450; glibc's
 * peak there is 403 MiB.  2 is the default.
 * ... and only while its list is shrinking: more than shrink_min blocks
 * (HAKMEM_SHRINK_MIN, 64) returned beyond those taken since the last pass.
 * In steady churn the pages came back at once and were faulted in again
 * (mid_mt16: 19-24 k pages released per run, about 6 k with 64), at a small
 * cost in fragment_stress (peak 413-421 -> 426-428 MiB, after idle with ACE
 * off 390-398 -> 401-403: the pages freed in its balanced phases wait for
 * maintenance passes). */

typedef struct hak_span_lists {
    /* by HAK_LIST_*: AVAIL free blocks, more than half used; SPARSE at most
     * half used (3/4 after a dense spell), empty ones too; FULL no free block */
    hak_span_t *head[4], *tail[4];
    uint32_t nempty;       /* empty spans kept */
    uint32_t reserve;      /* empty spans to keep before releasing them */
    uint32_t taken, returned;   /* blocks, since the last maintenance pass */
} hak_span_lists_t;

void hak_spans_insert(hak_span_lists_t *l, hak_span_t *sp);
void hak_spans_remove(hak_span_lists_t *l, hak_span_t *sp);
/* A span with free blocks (dense first), or NULL. */
hak_span_t *hak_spans_pick(const hak_span_lists_t *l);
/* Take up to n blocks of sp (from hak_spans_pick) into out[]. */
uint32_t hak_spans_take(hak_span_lists_t *l, hak_span_t *sp, void **out, uint32_t n);
/* Return n blocks of sp to its bitmap and move the span to the list its use
 * calls for; release_pages (the caller's partial-release policy) lets a span
 * that stayed sparse, while its list shrinks, give back the pages under the
 * blocks.  Returns the first block that was already free (a double free),
 * else NULL. */
void *hak_spans_return(hak_span_lists_t *l, hak_span_t *sp, void *const *blocks, uint32_t n, int release_pages,
                       hak_counters_t *cnt);
/* Memory back to the OS on the free path (ACE off or on): the owner runs a
 * maintenance pass from its slow paths at most once per HAK_RELEASE_PERIOD_NS
 * and for at most HAK_RELEASE_PASS_NS.  A span that has stayed sparse since
 * the previous pass is released when empty (beyond the reserve) or gives back
 * up to `pages` free OS pages (partial release, the partial_release_pages
 * knob).  Spans that a churning program fills again within a period are left
 * alone, so the same pages are not faulted in and out.  Returns 0 when the
 * deadline stopped it. */
int hak_spans_maintain(hak_span_lists_t *l, uint32_t pages, uint64_t deadline, hak_counters_t *cnt);
/* Is a pass due (now >= *next_pass_ns)?  If so, book the next one and set the
 * pass deadline. */
int hak_pass_due(uint64_t *next_pass_ns, uint64_t *deadline);
/* Release empty spans (all of them, reserve included) and, unless empty_only,
 * up to `pages` free pages of each partly used span, until the deadline. */
size_t hak_spans_release(hak_span_lists_t *l, int empty_only, uint32_t pages, uint64_t deadline,
                         hak_counters_t *cnt);

/* Walk every in-use span without a lock (segments are never unmapped; the
 * descriptors are read racily: for statistics only). */
void hak_segments_foreach_span(void (*fn)(const hak_span_t *, void *), void *arg);
/* Every span descriptor, in use or not (a forked child, one thread). */
void hak_segments_foreach_desc(void (*fn)(hak_span_t *, void *), void *arg);

void hak_segment_lock_all(void);
void hak_segment_unlock_all(void);
void hak_segment_reinit_locks(void);

#endif
