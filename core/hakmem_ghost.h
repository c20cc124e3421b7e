/* The ghost-hit ledger both Large caches keep (the page heap's free ranges
 * and the mappings' cache, each under its own lock). */
#ifndef HAK_GHOST_H
#define HAK_GHOST_H

#include <stdint.h>
#include "hakmem_counters.h"
#include "hakmem_knobs.h"

/* Ghost hits: a Large request that found no resident free memory while the
 * bytes its cache's bound evicted within the hold time (the hold_ms knob)
 * would have served it.  The faults it takes are the bound's, not the
 * decay's: ACE's signal to raise the bound.  One ledger per cache, kept under
 * that cache's lock; the bytes evicted are summed, not listed (a request is
 * "served" when it is no larger than what was evicted since the ledger last
 * ran dry). */
typedef struct hak_ghost { uint64_t bytes, last_ns; } hak_ghost_t;

static inline uint64_t hak_ghost_hold_ns(void) { return HAK_KNOB_GET(hold_ms) * 1000000ull; }

static inline void hak_ghost_evicted(hak_ghost_t *g, uint64_t bytes, uint64_t now)
{
    if (g->last_ns + hak_ghost_hold_ns() < now)
        g->bytes = 0;
    g->bytes += bytes;
    g->last_ns = now;
}

static inline void hak_ghost_miss(hak_ghost_t *g, uint64_t bytes, uint64_t now)
{
    if (!g->bytes || g->last_ns + hak_ghost_hold_ns() < now || bytes > g->bytes)
        return;
    g->bytes -= bytes;
    __atomic_fetch_add(&hak_global_counters.large_ghost_hits, 1, __ATOMIC_RELAXED);
}

#endif
