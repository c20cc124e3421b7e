/* ACE decide step: the fast and slow loops, the UCB1 schedule and the safety
 * valves as one pure function over a metrics snapshot (docs/ACE.md).
 *
 *   ace_step(&metrics, &state, &moves)
 *
 * reads only its arguments (no clock, no I/O, no globals) and returns the knob
 * moves and release actions for the thread to apply, so tests can drive it with
 * synthetic metrics.  docs/ACE.md explains the rules and constants. */
#ifndef HAK_ACE_CONTROLLER_H
#define HAK_ACE_CONTROLLER_H

#include <stdint.h>
#include "hakmem_knobs.h"
#include "hakmem_ace_metrics.h"
#include "hakmem_ace_ucb1.h"
#include "hakmem_ace_duel.h"
#include "hakmem_ace_memory.h"

/* knob groups: one bandit each, one group explored at a time.  Only the
 * knobs no counter predicts have one: the drain threshold follows the remote
 * backlog, the bundle width the mutex wait, the release knobs the re-fault
 * rate (rules below and hakmem_ace_memory.h). */
#define ACE_CAP_BANDS   4   /* TLS cap: 16-128 B, 144 B-1 KiB, 1-16 KiB, 16-256 KiB */
enum {
    ACE_G_CAP0 = 0,
    ACE_G_DIET = ACE_CAP_BANDS,
    ACE_G_N
};

enum ace_knob_kind { ACE_K_TLS_CAP, ACE_K_DRAIN, ACE_K_BUNDLE, ACE_K_PARTIAL, ACE_K_DIET,
                     ACE_K_SPARSE, ACE_K_SHRINK, ACE_K_LARGE_MB, ACE_K_HOLD };
enum ace_reason {
    ACE_R_EXPLORE,   /* a duel's slice (the challenger or the arm in force) */
    ACE_R_BANDIT,    /* bandit's committed arm */
    ACE_R_BACKLOG,   /* fast rule: high remote backlog */
    ACE_R_DIET,      /* fast rule: LLC pressure (diet on) */
    ACE_R_LOCKS,     /* fast rule: mutex wait */
    ACE_R_RESTORE,   /* stable: correction undone one step */
    ACE_R_NORELIEF,  /* a correction that did not lower its metric, undone */
    ACE_R_REFAULT,   /* releasing (madvise + re-faults) costs more than the memory it saves: keep more */
    ACE_R_GHOST,     /* ghost hits: a larger Large bound */
    ACE_R_TARGET,    /* RSS above HAKMEM_ACE_RSS_TARGET_MB: release harder */
    ACE_R_HOLD       /* the ski-rental hold time from the price and the measured costs */
};
enum ace_stop { ACE_STOP_NONE = 0, ACE_STOP_P99, ACE_STOP_RSS, ACE_STOP_CPU };
enum ace_scav { ACE_SCAV_NONE = 0, ACE_SCAV_RSS_UP, ACE_SCAV_IDLE, ACE_SCAV_TARGET };

typedef struct ace_move {
    uint8_t  kind, reason;
    int16_t  cls;            /* class for per-class knobs, -1 otherwise */
    uint32_t from, to;       /* knob values (diet in permille) */
} ace_move_t;

#define ACE_MAX_MOVES (2 * HAK_NCLASS + 12)

typedef struct ace_moves {
    uint32_t   n;
    ace_move_t mv[ACE_MAX_MOVES];
    int        stop;                   /* enum ace_stop: valve fired, restore static knobs */
    uint32_t   partial_release_pages;  /* slow rule: hak_release_partial(N) now (0 = no) */
    int        scavenge;               /* enum ace_scav: budgeted scavenge now */
    uint64_t   budget_ns;              /* deadline budget for the release actions */
    /* for logging and the trace */
    uint64_t   slice_ns;               /* > 0: a duel runs, wake again after this long */
    int        reward_valid;
    double     reward, t_term, m_term, l_term, f_term, b_term;
    int        pressure, idle;
    int        explore_group, explore_arm;   /* -1 when none; arm = the one held next */
    int        duel_verdict;                 /* enum ace_verdict: a duel ended this wake */
    int        duel_group, duel_champ, duel_chal;   /* its group and arms (values via ace_group_value) */
    uint32_t   duel_blocks;                  /* the running or ended duel: ABBA blocks so far ... */
    double     duel_mean, duel_se;           /* ... challenger - champion, throughput-equivalent */
    int        phase_change;                 /* 1: a new phase began, the bandits start over */
    int        phase_from, phase_to;         /* busiest TLS band before and after */
    /* the books (slow ticks): J over the last slow interval and its terms */
    double     j, j_cpu_s, j_mib_s;
} ace_moves_t;

typedef struct ace_config {
    uint64_t fast_interval_ns, slow_interval_ns;
    uint64_t max_p99_ns;          /* HAKMEM_ACE_MAX_P99_LAT_NS */
    uint64_t max_rss_bytes;       /* HAKMEM_ACE_MAX_RSS_MB */
    double   max_cpu_percent;     /* HAKMEM_ACE_MAX_CPU_PERCENT */
    /* fast rules */
    /* Thresholds: the seed names the rules, not their numbers.  Each says why;
     * "a choice" marks one no measurement here has tuned (docs/ACE.md). */
    uint64_t backlog_min;         /* backlog below this never counts as high (16: a few
                                     blocks stranded cost less than collecting them; a choice) */
    uint32_t backlog_div;         /* high when backlog[c] >= drain[c] / div (4: a quarter of the
                                     threshold pending means collections lag; a choice) */
    uint32_t max_drain_steps;     /* drain correction: at most this many steps down (3: 128 -> 32,
                                     the smallest candidate) */
    double   llc_miss_hi, llc_miss_lo;     /* counters: pressure on / calm (0.30 / 0.15; a choice:
                                              no counters on the VMs measured) */
    double   llc_proxy_hi, llc_proxy_lo;   /* proxy: pressure on / calm (1.0: the hot set fills
                                              the LLC; 0.5 for hysteresis) */
    double   lock_hi, lock_lo;             /* lock wait fraction on / calm (0.02 / 0.005; a choice:
                                              2 % of thread time is worth a wider bundle) */
    uint32_t max_bundle_steps;    /* bundle correction: at most this many steps up (2: 32 -> 128,
                                     the largest candidate) */
    double   lock_relief;         /* a bundle step must bring lock wait below this fraction of
                                     what triggered it (0.75), else it is undone and the rule
                                     rests for rest_ticks (mid_mt16: the open-loop rule's 64 and
                                     128 cost 3-4 %, 12 interleaved runs) */
    uint32_t trigger_ticks;       /* consecutive high ticks before a rule acts (2: one tick's
                                     throughput varies 13-20 %, so one high tick is noise) */
    uint32_t stable_ticks;        /* calm ticks per diet restore step (4; a choice) */
    /* slow rules */
    double   frag_hi;             /* fragmentation ratio that triggers partial release (1.5: a
                                     third of what is held unused; a choice) */
    uint64_t frag_min_bytes;      /* ... if held - live exceeds this (1 MiB: less is not worth a
                                     pass; a choice) */
    double   rss_up_ratio;        /* RSS growth since last slow tick that triggers a scavenge
                                     (1.10; a choice) */
    uint64_t rss_up_min_bytes;    /* ... and at least this much (4 MiB) */
    double   idle_ops_per_s;      /* below this (and 1 % of baseline) the process is idle (1000: a
                                     sleeping program makes a few calls a second; a choice) */
    uint64_t scavenge_budget_ns;  /* deadline per release pass (5 ms, less at short ticks: within
                                     the CPU valve, docs/ACE.md "Slow loop") */
    uint64_t idle_budget_ns;      /* ... while idle: 70 % of the CPU valve's allowance per tick
                                     (17.5 ms at 500 ms and 5 %): nothing else runs then */
    ace_mem_cfg_t mem;            /* the price of memory and its rules */
    /* bandit: duels of neighbouring arms (hakmem_ace_duel.h) */
    uint64_t slice_ns;            /* duel slice (HAKMEM_ACE_SLICE_MS, 20 ms; at most the fast tick) */
    ace_duel_cfg_t duel;
    uint32_t settle_ticks;        /* busy ticks before the first exploration: the reward
                                     baselines are plain means until then (5) */
    uint32_t revisit_ticks;       /* fast ticks from the end of a visit to the group's next (20) ... */
    uint32_t revisit_ticks_max;   /* ... doubled by each visit that keeps the arm, up to (320) */
    uint32_t gap_ticks;           /* fast ticks between two group visits (2: the baselines see
                                     the arm in force again; a choice) */
    uint32_t rest_ticks;          /* the lock rule rests this long after an undone step (20) */
    double   ucb_c;               /* exploration weight (0.02: arm values are a few hundredths) */
    double   ucb_gamma;           /* discount of older duel results per new one (0.95: a result
                                     14 duels old weighs half; 0.8 kept every arm's count so low
                                     that UCB1 explored all the time: tests/ace unit ucb1) */
    double   w_tput, w_miss, w_lock, w_frag, w_backlog;   /* the seed's reward, throughput first
                                     (1.0; 0.2, 0.2, 0.1, 0.1: penalties break ties) */
} ace_config_t;

typedef struct ace_state {
    ace_config_t cfg;
    hak_knobs_t  stat;                  /* static knobs (defaults + overrides) */
    ace_ucb1_t   bandit[ACE_G_N];
    uint8_t      learned[ACE_G_N];      /* group explored once: its arm drives the knob */
    uint32_t     revisit_wait[ACE_G_N];
    uint64_t     next_visit[ACE_G_N];   /* tick before which group g is not revisited */
    int          explore_g;             /* group being visited, -1 */
    ace_duel_t   duel;                  /* its running duel */
    uint8_t      visit_dirs;            /* directions done this visit (1: down, 2: up) */
    uint8_t      visit_won;             /* a challenger won during this visit */
    uint32_t     gap_left;
    int          rr_next;
    /* running baselines for reward scaling */
    int          base_init;
    double       base_ops, base_miss, base_lock, base_frag, base_backlog;
    double       base_bytes;            /* bytes handed out per second (idle: a trickle) */
    /* rules */
    uint8_t      drain_corr[HAK_NCLASS], backlog_run[HAK_NCLASS];
    uint64_t     drain_trigger[HAK_NCLASS];
    uint8_t      bundle_corr, lock_run;
    uint64_t     lock_trigger;
    uint32_t     lock_probe;                 /* ticks left judging the last bundle step */
    double       lock_before, lock_after;
    uint64_t     lock_rest_until;            /* the lock rule rests until this tick */
    uint32_t     busy_ticks;
    int          phase_band;                 /* TLS band with most allocations (-1: not yet) */
    uint32_t     phase_run;
    int          pressure;
    uint32_t     pressure_run, calm_run;
    uint32_t     diet_permille;         /* diet in force */
    int          diet_by_pressure;      /* the diet is the measured-pressure one (0.75 first) */
    int          idle_scavenging, idle_done;   /* the idle scavenge runs / found nothing more */
    ace_mem_state_t mem;
    uint64_t     last_slow_rss;
    uint64_t     last_slow_tick;
    uint64_t     tick;
    int          stopped;
} ace_state_t;

/* the seed's candidates per knob (docs/ACE.md) */
extern const uint32_t ace_cand_tls_cap[5];
extern const uint32_t ace_cand_drain[5];
extern const uint32_t ace_cand_diet[5];      /* permille */
extern const uint32_t ace_cand_bundle[4];

void ace_config_default(ace_config_t *cfg);
void ace_state_init(ace_state_t *st, const ace_config_t *cfg, const hak_knobs_t *static_knobs);
void ace_step(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out);

int  ace_cap_band(int cls);
const char *ace_group_name(int g);
const char *ace_stop_reason(int stop);
/* index of the candidate nearest to v */
int  ace_cand_index(const uint32_t *cand, int n, uint32_t v);
/* candidate value of arm a of group g (diet in permille) */
uint32_t ace_group_value(int g, int a);

#endif
