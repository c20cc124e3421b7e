/* Snapshots of the whole allocator: the per-thread counters
 * (hakmem_counters.h) summed over every heap, and gauges read at the same
 * time, without a lock anything else waits on; and the one walk over their
 * figures that writes them as text (HAKMEM_STATS=1) or JSON (HAKMEM_STATS=json,
 * hak_stats_json). */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_counters.h"
#include "hakmem_os.h"

/* A snapshot of the whole allocator: counters summed over all heaps (plus the
 * counters of work done outside any heap), and gauges read at the same time. */
typedef struct hak_snapshot {
    hak_counters_t sum;
    uint64_t backlog[HAK_NCLASS];   /* blocks waiting on spans' remote lists now, per class (pushed - collected) */
    uint64_t free_blocks[HAK_NCLASS];   /* blocks of the class's spans not handed out (cached ones count as free) */
    uint64_t bytes_held;            /* span pages not released + large mappings */
    uint64_t bytes_live;            /* sum over classes of (allocs - frees) * size + large live */
    uint64_t span_bytes;            /* span pages held (not released): the Tiny/Mid part of bytes_held */
    uint64_t span_bytes_peak;       /* the most span pages have been (released ones included) */
    uint64_t segment_bytes;         /* address space mapped as segments */
    uint64_t large_live, large_live_bytes;
    uint64_t large_cached_bytes;    /* freed Large bytes still resident: page heap and mappings' cache */
    uint64_t heap_mapped_bytes, heap_dirty_bytes;   /* page heap regions; their resident free bytes */
    uint64_t minor_faults;          /* of the process so far (getrusage) */
    uint64_t madvise_calls, madvise_ns;   /* pages given back: calls and their time (hak_os_release) */
    uint64_t partial_spans;         /* spans with both used and free blocks */
    uint64_t released_bytes;        /* pages inside live spans already given back */
    uint32_t threads;               /* heaps in use */
} hak_snapshot_t;

void hak_snapshot_take(hak_snapshot_t *out);

/* Where formatted output goes: a descriptor, or memory (snprintf-style: what
 * does not fit is counted in len, not written). */
typedef struct hak_sink {
    int fd;           /* >= 0: written there */
    char *dst;        /* else: copied here, up to cap bytes */
    size_t cap, len;  /* len: every byte produced */
} hak_sink_t;
void hak_sink_put(hak_sink_t *o, const hak_buf_t *b);

/* The figures of a snapshot, as text lines "[hakmem] ..." or one JSON object. */
void hak_stats_write(const hak_snapshot_t *s, int json, hak_sink_t *o);

#endif
