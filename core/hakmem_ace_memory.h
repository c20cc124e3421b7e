/* ACE's memory rules: what a held page costs against what giving it back
 * costs (docs/ACE.md "The price of memory").  Pure, like ace_step, which calls
 * them once per fast tick: counters in, knob targets and release requests out.
 *
 *   J = CPU-seconds + lambda * MiB-seconds of RSS,   lambda = price / 1024
 *
 * with the price in cores per GiB (HAKMEM_ACE_MEM_PRICE).  The rules:
 *
 * - hold time (ski rental): a free page held for t seconds costs lambda_page * t;
 *   giving it back costs c = c_release + c_fault if it is used again (both
 *   measured: ACE's own release passes and the OS layer's probe).  Holding a page
 *   H = c / lambda_page and then giving it back never costs more than twice
 *   what the best choice made knowing the future costs.  H is the hold_ms knob
 *   (the Large decay and the reuse window of released span pages) and the idle
 *   time before the idle scavenge gives everything back.
 * - re-faults and release cost -> release mode: the CPU the pages given back
 *   in a tick cost (the core's madvise time, and a fault for each one handed
 *   out again within the hold time) against the memory they saved at the
 *   price; when releasing costs more, the release ladder steps toward "keep
 *   pages".
 * - ghost hits -> Large bound: requests that the bytes the bound evicted
 *   within the hold time would have served raise the bound.
 * - RSS above the soft target: the most eager release step, the smallest
 *   bound, no hold time, and a budgeted scavenge every tick. */
#ifndef HAK_ACE_MEMORY_H
#define HAK_ACE_MEMORY_H

#include <stdint.h>
#include "hakmem_knobs.h"
#include "hakmem_ace_metrics.h"

#define ACE_LADDER_N 5     /* release steps: keep pages .. most eager */
#define ACE_BOUND_N  7     /* Large bound candidates */

typedef struct ace_release_step { uint32_t pages, sparse_div, shrink_min; } ace_release_step_t;
extern const ace_release_step_t ace_ladder[ACE_LADDER_N];
extern const uint32_t ace_cand_large_mb[ACE_BOUND_N];

typedef struct ace_mem_cfg {
    double   price;              /* cores per GiB (HAKMEM_ACE_MEM_PRICE) */
    uint64_t rss_target_bytes;   /* HAKMEM_ACE_RSS_TARGET_MB; 0: none */
    uint64_t idle_delay_ns;      /* HAKMEM_ACE_IDLE_SCAVENGE_MS when given ... */
    int      idle_delay_fixed;   /* ... (else the hold time) */
    uint64_t release_min_pages;  /* a tick that released fewer pages says nothing (256: 1 MiB) */
    double   clear_loss;         /* release cost above this many times its value acts at once (4:
                                    thread_swing's 16-thread phase measured 10x; a choice) */
    uint32_t ghost_min;          /* ghost hits per tick that count as a trigger (2: one can be a
                                    program's one-off; a choice) */
    uint64_t hold_min_ns, hold_max_ns;   /* the hold time's range (10 ms: the page heap's pass
                                    spacing; 60 s: a page held longer is the program's, not a cache's) */
    uint64_t probe_pages;        /* pages the cost probe faults (64: 256 KiB, ~0.1 ms) */
} ace_mem_cfg_t;

typedef struct ace_mem_state {
    int      level, static_level;        /* release ladder step in force / the static knobs' */
    int      bound, static_bound;        /* Large bound candidate in force / static (-1: not a candidate) */
    uint32_t release_run, ghost_run;
    uint64_t release_trigger, ghost_trigger;   /* tick of the last trigger */
    double   cost_ns, value_ns;          /* the last tick's release: its CPU cost, the memory it saved */
    uint64_t hold_ns;                    /* the ski-rental hold time in force */
    uint64_t static_hold_ns;             /* HAKMEM_LARGE_DECAY_MS's (until costs are measured) */
    double   c_release_ns, c_fault_ns;   /* per page, measured */
    uint64_t idle_since_ns;              /* start of the idle spell (0: busy) */
    int      above_target;
    /* the books: J since ACE started and since the last slow tick */
    double   cpu_s, mib_s, slow_cpu_s, slow_mib_s;
} ace_mem_state_t;

/* Why a memory knob moves: its rule fired, a calm slow interval restores
 * it, or RSS is above the target (ace_step names the move's reason). */
enum ace_mem_why { ACE_MEM_NONE = -1, ACE_MEM_RULE, ACE_MEM_RESTORE, ACE_MEM_TARGET };

/* What the memory rules want this tick (ace_step turns them into moves). */
typedef struct ace_mem_out {
    int      level_reason;      /* enum ace_mem_why of a ladder move */
    int      bound_reason;      /* of a bound move */
    int      scav_target;       /* 1: budgeted scavenge toward the target */
    int      idle_due;          /* 1: idle for the hold time: give back every free page */
} ace_mem_out_t;

void     ace_mem_cfg_default(ace_mem_cfg_t *c);
void     ace_mem_init(ace_mem_state_t *s, const hak_knobs_t *stat);
/* lambda: CPU-seconds per MiB-second of RSS */
double   ace_mem_lambda(const ace_mem_cfg_t *c);
/* The ski-rental hold time for a page whose release + re-fault costs cost_ns. */
uint64_t ace_mem_hold_ns(const ace_mem_cfg_t *c, double cost_ns);
/* One fast tick (busy or idle; slow: also a slow tick).  trigger_ticks: as the
 * other fast rules. */
void     ace_mem_tick(const ace_metrics_t *m, const ace_mem_cfg_t *c, ace_mem_state_t *s, int idle,
                      uint32_t trigger_ticks, uint64_t last_slow_tick, uint64_t tick, ace_mem_out_t *o);
/* The knob targets of the step and bound in force (the static values at the
 * static step and bound), and the hold time in ms. */
uint32_t ace_mem_partial(const ace_mem_state_t *s, const hak_knobs_t *stat);
uint32_t ace_mem_sparse_div(const ace_mem_state_t *s, const hak_knobs_t *stat);
uint32_t ace_mem_shrink_min(const ace_mem_state_t *s, const hak_knobs_t *stat);
uint32_t ace_mem_large_mb(const ace_mem_state_t *s, const hak_knobs_t *stat);
uint32_t ace_mem_hold_ms(const ace_mem_state_t *s);
double   ace_mem_j(const ace_mem_cfg_t *c, double cpu_s, double mib_s);

#endif
