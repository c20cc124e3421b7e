/* ACE metrics: what the observe step of the loop sees (docs/ACE.md).
 * The OS contact (clocks, /proc, sysfs, perf counters) and the malloc-free
 * formatter are hakmem_os.h's.  Nothing here may call the malloc family. */
#ifndef HAK_ACE_METRICS_H
#define HAK_ACE_METRICS_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_knobs.h"
#include "hakmem_stats.h"
#include "hakmem_os.h"

#define ACE_LAT_WINDOW 512   /* per-operation samples kept for p99 (a few ticks) */
#define ACE_MED_WINDOW 64    /* batch-mean samples kept for p50 */

/* One tick's view of the allocator.  Everything ace_step() decides from is in
 * here, so tests can build it by hand. */
typedef struct ace_metrics {
    uint64_t t_ns;                /* monotonic time of this tick */
    uint64_t dt_ns;               /* since the previous tick */
    uint32_t tick;                /* fast tick number, from 1 */
    int      slow;                /* 1: this tick is also a slow tick */
    int      slice;               /* 1: a duel slice between fast ticks (deltas since the
                                     last wake; the rules and the schedule wait for the tick) */

    /* fast metrics */
    uint64_t ops;                 /* allocs + frees during the tick (ACE's own sampling excluded) */
    double   ops_per_s;
    double   alloc_bytes_per_s;   /* bytes handed out per second (class sizes, Large lengths) */
    uint64_t allocs[HAK_NCLASS];  /* per-class allocations during the tick */
    uint64_t remote[HAK_NCLASS];  /* per-class remote frees during the tick */
    int      llc_valid;           /* 1: llc_miss_rate comes from hardware counters */
    double   llc_miss_rate;       /* LLC misses / LLC references (valid only if llc_valid) */
    double   llc_proxy;           /* hot working set / LLC size (always computed) */
    uint64_t hot_ws_bytes;        /* min(bytes_live, bytes allocated+freed per second) */
    uint64_t lock_wait_ns;        /* contended lock wait during the tick, all threads */
    double   lock_wait_frac;      /* lock_wait_ns / (dt * active threads), in [0, 1] */
    uint64_t backlog[HAK_NCLASS]; /* remote-free backlog per class now */
    uint64_t backlog_total;
    uint64_t p50_ns, p99_ns;      /* sampled malloc/free latency, timer cost subtracted:
                                     p50 of batch means, p99 of single operations */
    uint32_t lat_n;               /* samples in the window */
    uint32_t threads;
    double   cpu_percent;         /* ACE thread CPU, % of one core, over >= 1 s; < 0 = no window yet */
    uint64_t cpu_total_ns;        /* ACE thread CPU since it started */

    /* slow metrics (read every tick, acted on in slow ticks) */
    uint64_t rss_bytes;           /* /proc/self/statm resident */
    uint64_t bytes_held, bytes_live, released_bytes, partial_spans;  /* as hak_snapshot_t */
    double   frag;                /* bytes_held / bytes_live (held excludes released pages); 1.0 when no live bytes */
    uint64_t last_scavenge_pages; /* pages the previous tick's scavenge returned */
    int      last_scavenge_ran;   /* 1: the previous tick ran a scavenge */
    int      last_scavenge_hit_deadline; /* ... and it stopped at its deadline */

    /* memory: what holding and releasing pages cost (hakmem_ace_memory.h) */
    uint64_t proc_cpu_ns;         /* process CPU during the tick, every thread's (ACE's too) */
    uint64_t pages_released;      /* 4 KiB pages given back during the tick (spans, page heap, mappings) */
    uint64_t pages_reused;        /* pages handed out again within the hold time of their release */
    uint64_t madvise_ns;          /* the core's madvise time during the tick (wall) */
    uint64_t release_ns_page;     /* ACE's CPU per page its last release gave back (0: under 64 pages) */
    uint64_t ghost_hits;          /* Large misses the bound's evictions would have served */
    uint64_t large_misses;        /* Large requests that mapped a new region or missed the mappings' cache */
    uint64_t slow_ops[HAK_NCLASS];/* magazine refills + flushes per class during the tick */
    double   refills_per_kop, flushes_per_kop;   /* per 1000 operations, all classes */
    uint64_t probe_release_ns, probe_fault_ns;   /* the OS probe's page costs (first and slow ticks, else 0) */

    hak_knobs_t knobs;            /* knob values as read at this tick */
} ace_metrics_t;

/* ---- collection (the thread's side; uses the core) ---- */
typedef struct ace_collector {
    hak_snapshot_t prev;
    int      have_prev;
    uint64_t prev_ns;
    uint32_t tick;
    uint64_t llc_bytes;           /* LLC size from sysfs (0: unknown, 32 MiB assumed) */
    int      perf_state;          /* 0 untried, 1 on, -1 unavailable */
    int      perf_errno;
    int      perf_fd_miss[64], perf_fd_ref[64];
    int      perf_tid[64];
    int      perf_n;
    uint64_t perf_prev_miss, perf_prev_ref;
    double   tsc_per_ns;          /* rdtscp rate; 0: clock_gettime is the timer */
    uint64_t timer_cost;          /* median cost of one timer pair, timer units */
    uint64_t timer_cost_ns;       /* the same in ns */
    uint64_t lat[ACE_LAT_WINDOW], lat_scratch[ACE_LAT_WINDOW];
    uint32_t lat_pos, lat_n;
    uint64_t med[ACE_MED_WINDOW];
    uint32_t med_pos, med_n;
    uint64_t own_ops;             /* ops ACE itself did since the previous tick */
    uint64_t cpu_win_wall, cpu_win_cpu;
    double   cpu_percent;
    uint64_t scav_pages, scav_cpu_ns; int scav_ran, scav_hit;
    hak_snapshot_t tick_prev;     /* the snapshot of the previous fast tick (memory deltas) */
    uint64_t proc_cpu_prev;       /* process CPU at the previous fast tick */
    uint64_t probe_pages;         /* pages the OS cost probe faults (64) */
    int      probed;              /* the probe ran once */
} ace_collector_t;

void ace_collector_init(ace_collector_t *c);
/* Fill m for this wake: a fast tick (slice = 0: the tick number advances and
 * the timed malloc/free batch runs) or a duel slice between ticks. */
void ace_collect(ace_collector_t *c, ace_metrics_t *m, int slow, int slice);
/* Record a scavenge's result so the next tick's metrics show it. */
void ace_collector_note_scavenge(ace_collector_t *c, uint64_t pages, uint64_t cpu_ns, int hit_deadline);
/* Close perf fds (fork child). */
void ace_collector_close(ace_collector_t *c);

/* Percentile (0..100) of a small array; sorts a copy into scratch. */
uint64_t ace_percentile(const uint64_t *v, uint32_t n, uint64_t *scratch, int pct);

#endif
