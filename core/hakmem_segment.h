/* Segments and spans: the one pointer -> metadata rule for Tiny and Mid.
 * A segment is 4 MiB, 4 MiB aligned, made of 64 pages of 64 KiB; page 0 holds
 * the segment header with one span descriptor per page.  A span is a run of
 * pages carved into blocks of one class; its free blocks are a bitmap in the
 * descriptor (never links inside the blocks, so any free page can be released).
 * A global bitmap over the address space says which 4 MiB regions are hakmem
 * segments, so a foreign pointer is recognised without touching its memory. */
#ifndef HAK_SEGMENT_H
#define HAK_SEGMENT_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_os.h"
#include "hakmem_stats.h"

#define HAK_SEG_SHIFT   22
#define HAK_SEG_SIZE    (1ul << HAK_SEG_SHIFT)
#define HAK_PAGE_SHIFT  16
#define HAK_PAGE_SIZE   (1ul << HAK_PAGE_SHIFT)
#define HAK_SEG_PAGES   64
#define HAK_SPAN_MAX_PAGES    32
#define HAK_SPAN_MAX_BLOCKS   4096
#define HAK_SPAN_MAX_OSPAGES  (HAK_SPAN_MAX_PAGES * (HAK_PAGE_SIZE / HAK_OS_PAGE))
#define HAK_ADDR_BITS   48

enum { HAK_LIST_NONE, HAK_LIST_AVAIL, HAK_LIST_SPARSE, HAK_LIST_FULL };

struct hak_heap;
typedef struct hak_span hak_span_t;
struct hak_span {
    /* read by free()'s fast path; constant while the span is in use */
    uintptr_t start;       /* block 0 */
    uint64_t  limit;       /* capacity * bsize; 0 when the span is not in use */
    uint64_t  div_magic;   /* off divisible by bsize <=> off * div_magic < div_magic */
    uint32_t  bsize;
    uint8_t   cls;
    uint8_t   list;        /* HAK_LIST_* */
    uint8_t   shard;       /* Mid: central shard that owns the bitmap */
    uint8_t   abandoned;   /* Tiny: on the abandoned lists, waiting for adoption */
    uint8_t   clean;       /* every free page of the span is released */
    uint8_t   aged;        /* sparse and not allocated from since the last maintenance pass */
    /* owner side: Tiny spans belong to a heap (NULL = abandoned), Mid spans to a
     * central shard; the bitmap is touched only under that owner's lock */
    struct hak_heap *owner;
    hak_span_t *next, *prev;
    uint32_t  capacity, used, pages, scan;
    uint32_t  div_mul;     /* index = (off * div_mul) >> 32 for multiples of bsize */
    uint32_t  nreleased;   /* OS pages of this span given back while it is in use */
    uint64_t  released[HAK_SPAN_MAX_OSPAGES / 64];
    uint64_t  freemap[HAK_SPAN_MAX_BLOCKS / 64];
};

typedef struct hak_segment {
    hak_span_t *page_span[HAK_SEG_PAGES];   /* page -> span covering it */
    uint64_t free_pages;                    /* bit i: page i is in no span */
    struct hak_segment *next;
    hak_span_t spans[HAK_SEG_PAGES];        /* descriptor of the span starting at page i */
} hak_segment_t;

#define HAK_SEGMAP_SIZE (1ul << (HAK_ADDR_BITS - HAK_SEG_SHIFT))
extern uint8_t hak_segmap[HAK_SEGMAP_SIZE] __attribute__((visibility("hidden")));   /* 64 MiB of address space, touched only where segments are */
extern hak_span_t hak_span_invalid;
extern uint64_t hak_bytes_spans;      /* bytes of pages in spans in use */
extern uint64_t hak_bytes_released;   /* of those, bytes given back while in use */

static inline int hak_segmap_has(uintptr_t a)
{
    uintptr_t i = a >> HAK_SEG_SHIFT;
    return HAK_LIKELY(i < HAK_SEGMAP_SIZE) && __atomic_load_n(&hak_segmap[i], __ATOMIC_RELAXED);
}

/* The span of a pointer inside a segment (hak_span_invalid for the header page
 * or a free page). */
static inline hak_span_t *hak_span_of(uintptr_t a)
{
    hak_segment_t *seg = (hak_segment_t *)(a & ~(HAK_SEG_SIZE - 1));
    return seg->page_span[(a >> HAK_PAGE_SHIFT) & (HAK_SEG_PAGES - 1)];
}

/* A valid block start of an in-use span? */
static inline int hak_span_is_block(const hak_span_t *sp, uintptr_t a)
{
    uint64_t off = a - sp->start;
    return off < sp->limit && off * sp->div_magic < sp->div_magic;
}

static inline uint32_t hak_span_index(const hak_span_t *sp, uintptr_t a)
{
    return (uint32_t)(((a - sp->start) * (uint64_t)sp->div_mul) >> 32);
}

uint32_t hak_span_pages_for_class(int cls);
/* A new span for class cls with every block free (NULL when out of memory). */
hak_span_t *hak_span_alloc(int cls, hak_counters_t *cnt);
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
/* A span sparse for a whole period and at most 1/HAK_SPARSE_BLOCK_DIV used
 * gives back the pages under each block returned to it.  Measured (mid_mt 4
 * threads / fragment_stress peak RSS): 2: 65-78 M ops/s / 406 MiB, 4: 77-87 /
 * 432, 8: 76-89 / 450; glibc's peak there is 403 MiB. */
#define HAK_SPARSE_BLOCK_DIV  2

typedef struct hak_span_lists {
    /* by HAK_LIST_*: AVAIL free blocks, more than half used; SPARSE at most
     * half used (3/4 after a dense spell), empty ones too; FULL no free block */
    hak_span_t *head[4], *tail[4];
    uint32_t nempty;       /* empty spans kept */
    uint32_t reserve;      /* empty spans to keep before releasing them */
} hak_span_lists_t;

void hak_spans_insert(hak_span_lists_t *l, hak_span_t *sp);
void hak_spans_remove(hak_span_lists_t *l, hak_span_t *sp);
/* A span with free blocks (dense first), or NULL. */
hak_span_t *hak_spans_pick(const hak_span_lists_t *l);
/* Take up to n blocks of sp (from hak_spans_pick) into out[]. */
uint32_t hak_spans_take(hak_span_lists_t *l, hak_span_t *sp, void **out, uint32_t n);
/* Return block p to its span sp and move the span to the list its use calls
 * for.  Returns 0 if p was already free (a double free). */
int hak_spans_return(hak_span_lists_t *l, hak_span_t *sp, uintptr_t p, hak_counters_t *cnt);
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

/* Walk every in-use span (racy reads; for statistics only). */
void hak_segments_foreach_span(void (*fn)(const hak_span_t *, void *), void *arg);

void hak_segment_lock_all(void);
void hak_segment_unlock_all(void);
void hak_segment_reinit_locks(void);

#endif
