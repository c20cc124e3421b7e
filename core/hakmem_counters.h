/* Plain per-thread event counters.  Each thread increments its own (relaxed
 * load + store: one add, no lock prefix); a reader thread (ACE, HAKMEM_STATS)
 * sums every heap's counters with relaxed loads, without locks.  Counters of
 * exited threads stay in their (pooled) heap, so sums only grow. */
#ifndef HAK_COUNTERS_H
#define HAK_COUNTERS_H

#include <stdint.h>
#include "hakmem_size_class.h"

typedef struct hak_class_counters {
    uint64_t refills, flushes;       /* magazine refills / flushes */
    uint64_t remote_frees, drains;   /* blocks pushed to a span another heap owns / collections that found some */
    uint64_t remote_collected;       /* pushed blocks returned to their span's bitmap */
} hak_class_counters_t;

typedef struct hak_counters {
    uint64_t allocs[HAK_NCLASS];     /* per class, counted on the fast path: */
    uint64_t frees[HAK_NCLASS];      /* arrays so an increment is one add */
    hak_class_counters_t cls[HAK_NCLASS];
    uint64_t lock_waits, lock_wait_ns;   /* contended lock acquisitions and time waited */
    /* 4 KiB pages given back with madvise/munmap, by the layer that held
     * them: Tiny/Mid spans, the page heap, Large blocks' own mappings */
    uint64_t pages_released_spans, pages_released_heap, pages_released_maps;
    /* of those, pages handed out again within the hold time (HAKMEM_LARGE_DECAY_MS)
     * of their release: faults a longer hold would have saved */
    uint64_t pages_reused_spans, pages_reused_heap;
    uint64_t spans_adopted;              /* spans of exited threads taken over */
    uint64_t large_allocs, large_frees;
    uint64_t large_alloc_bytes;          /* bytes of the Large blocks handed out */
    /* page heap: blocks from a free range / from a new region; ranges purged */
    uint64_t heap_hits, heap_misses, heap_purges;
    uint64_t heap_lock_waits, heap_lock_wait_ns;   /* of lock_waits, lock_wait_ns: the page heap's lock */
    /* own mappings' cache: hits, misses, pieces unmapped, mremap growths */
    uint64_t map_hits, map_misses, map_evictions, map_remaps;
    uint64_t large_ghost_hits;           /* hakmem_large.h: misses the bound's evictions would have served */
} hak_counters_t;

/* Only the owning thread writes its counters; an aligned 64-bit add is never
 * torn on x86-64, so readers' relaxed loads see whole values.  Under TSan the
 * write is spelled as a relaxed atomic so the tool sees the same contract. */
#ifdef __SANITIZE_THREAD__
#define HAK_CNT_ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#else
#define HAK_CNT_ADD(x, v) ((x) += (v))
#endif
#define HAK_CNT_INC(x)    HAK_CNT_ADD(x, 1)

/* Counters for work not done by a heap's owner (ACE's thread, exit paths). */
extern hak_counters_t hak_global_counters;


/* Counters of a heap are written by their owner only; everyone else counts
 * into hak_global_counters with atomic adds. */
static inline void hak_cnt_add(hak_counters_t *cnt, uint64_t *field, uint64_t v)
{
    if (cnt == &hak_global_counters)
        __atomic_fetch_add(field, v, __ATOMIC_RELAXED);
    else
        HAK_CNT_ADD(*field, v);
}

#endif
