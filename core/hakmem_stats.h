/* Snapshots of the whole allocator: the per-thread counters
 * (hakmem_counters.h) summed over every heap, and gauges read at the same time. */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include <stdint.h>
#include "hakmem_counters.h"

/* A snapshot of the whole allocator: counters summed over all heaps (plus the
 * counters of work done outside any heap), and gauges read at the same time. */
typedef struct hak_snapshot {
    hak_counters_t sum;
    uint64_t backlog[HAK_NCLASS];   /* blocks waiting on spans' remote lists now, per class (pushed - collected) */
    uint64_t bytes_held;            /* span pages not released + large mappings */
    uint64_t bytes_live;            /* sum over classes of (allocs - frees) * size + large live */
    uint64_t partial_spans;         /* spans with both used and free blocks */
    uint64_t released_bytes;        /* pages inside live spans already given back */
    uint32_t threads;               /* heaps in use */
} hak_snapshot_t;

void hak_snapshot_take(hak_snapshot_t *out);

#endif
