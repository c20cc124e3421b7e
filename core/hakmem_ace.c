/* ACE thread and lifecycle (implements hakmem_ace.h): configuration from the
 * options table (hakmem_options.h), the observe -> decide -> apply loop,
 * logging, the trace CSV, the safety valves' shutdown, and fork (docs/ACE.md).
 * Every OS contact goes through hakmem_os.h.
 *
 * Nothing here calls the malloc family except through hak_os_spawn_detached
 * (pthread_create: made outside every allocator lock, re-entry guarded) and
 * ACE's own latency samples (hak_malloc/hak_free from ACE's thread, like any
 * other thread). */
#include "hakmem_ace.h"
#include "hakmem_heap.h"
#include "hakmem_ace_controller.h"
#include "hakmem_ace_metrics.h"
#include "hakmem_ace_scavenge.h"
#include "hakmem_knobs.h"
#include "hakmem_release.h"
#include "hakmem_large.h"
#include "hakmem_options.h"
#include "hakmem_os.h"

#include <string.h>

enum { ACE_UNKNOWN = 0, ACE_OFF, ACE_STARTING, ACE_RUNNING, ACE_STOPPED };
#define ACE_ALL_PAGES 0xffffffffu   /* pages_per_span meaning "every free page" */

static int ace_flag;                 /* enum above */
static int ace_trace_fd = -1;
static int ace_log_level;
static ace_collector_t ace_col;
static ace_state_t ace_st;
static ace_metrics_t ace_m;
static ace_moves_t ace_out;

/* ------------------------------------------------------------ logging */
static void log_begin(hak_buf_t *b) { hak_buf_reset(b); hak_put_str(b, "[ACE] "); }
static void log_end(hak_buf_t *b) { hak_put_ch(b, '\n'); hak_buf_write(2, b); }

static void put_diet(hak_buf_t *b, uint32_t permille)
{
    hak_put_fix(b, permille / 1000.0, permille % 10 ? 3 : 2);
}

static const char *reason_text(int kind, int r)
{
    switch (r) {
    case ACE_R_EXPLORE: return "bandit explore";
    case ACE_R_BANDIT:  return "bandit";
    case ACE_R_BACKLOG: return "high backlog";
    case ACE_R_DIET:    return "LLC pressure";
    case ACE_R_LOCKS:   return "mutex wait";
    case ACE_R_RESTORE: return kind == ACE_K_DIET ? "stable, gradual restore" : "stable, restore";
    case ACE_R_REFAULT: return "release costs more than it saves";
    case ACE_R_GHOST:   return "ghost hits";
    case ACE_R_TARGET:  return "above the RSS target";
    case ACE_R_HOLD:    return "hold time";
    default:            return "no relief from the last step, undone";   /* ACE_R_NORELIEF */
    }
}

/* ------------------------------------------------------------- config */
static void read_config(ace_config_t *cfg)
{
    ace_config_default(cfg);
    cfg->fast_interval_ns = (uint64_t)(hak_option_double(HAK_OPT_ACE_FAST_INTERVAL_MS) * 1e6);
    cfg->slow_interval_ns = (uint64_t)(hak_option_double(HAK_OPT_ACE_SLOW_INTERVAL_S) * 1e9);
    if (hak_option_set(HAK_OPT_ACE_SLOW_INTERVAL_MS))
        cfg->slow_interval_ns = (uint64_t)(hak_option_double(HAK_OPT_ACE_SLOW_INTERVAL_MS) * 1e6);
    if (cfg->slow_interval_ns < cfg->fast_interval_ns) cfg->slow_interval_ns = cfg->fast_interval_ns;
    cfg->max_p99_ns = hak_option_u64(HAK_OPT_ACE_MAX_P99_LAT_NS);
    cfg->max_rss_bytes = (uint64_t)(hak_option_double(HAK_OPT_ACE_MAX_RSS_MB) * 1048576.0);
    cfg->max_cpu_percent = hak_option_double(HAK_OPT_ACE_MAX_CPU_PERCENT);
    cfg->slice_ns = (uint64_t)(hak_option_double(HAK_OPT_ACE_SLICE_MS) * 1e6);
    cfg->mem.price = hak_option_double(HAK_OPT_ACE_MEM_PRICE);
    cfg->mem.rss_target_bytes = (uint64_t)(hak_option_double(HAK_OPT_ACE_RSS_TARGET_MB) * 1048576.0);
    cfg->mem.idle_delay_fixed = hak_option_set(HAK_OPT_ACE_IDLE_SCAVENGE_MS);
    cfg->mem.idle_delay_ns = (uint64_t)(hak_option_double(HAK_OPT_ACE_IDLE_SCAVENGE_MS) * 1e6);
    if (cfg->slice_ns > cfg->fast_interval_ns) cfg->slice_ns = cfg->fast_interval_ns;
    /* a release pass never takes more than a quarter of a fast tick, nor more
     * than 70 % of ACE's CPU allowance per tick (so releasing every tick, as
     * the idle scavenge does, cannot trip the CPU valve by itself) */
    if (cfg->scavenge_budget_ns > cfg->fast_interval_ns / 4) cfg->scavenge_budget_ns = cfg->fast_interval_ns / 4;
    {
        double allow = (double)cfg->fast_interval_ns * cfg->max_cpu_percent / 100.0 * 0.7;
        if (allow < 100000) allow = 100000;             /* 100 us floor */
        if ((double)cfg->scavenge_budget_ns > allow) cfg->scavenge_budget_ns = (uint64_t)allow;
        cfg->idle_budget_ns = (uint64_t)allow;          /* idle: the whole allowance */
        if (cfg->idle_budget_ns > cfg->fast_interval_ns / 4) cfg->idle_budget_ns = cfg->fast_interval_ns / 4;
    }
}

/* -------------------------------------------------------------- trace */
static void trace_open(void)
{
    const char *p = hak_option_str(HAK_OPT_ACE_TRACE);
    static int first_pid;
    hak_buf_t path, b;
    int fd;
    if (!p) return;
    /* in a forked child: <path>.<pid>, so the parent's trace is not clobbered */
    if (!first_pid) first_pid = hak_os_getpid();
    hak_buf_reset(&path);
    hak_put_str(&path, p);
    if (hak_os_getpid() != first_pid) {
        hak_put_ch(&path, '.');
        hak_put_u64(&path, (uint64_t)hak_os_getpid());
    }
    hak_put_ch(&path, 0);
    fd = hak_os_open_write(path.b);
    if (fd < 0) {
        if (ace_log_level >= 1) {
            log_begin(&b);
            hak_put_str(&b, "cannot open trace file ");
            hak_put_str(&b, path.b);
            hak_put_str(&b, " (errno=");
            hak_put_u64(&b, (uint64_t)-fd);
            hak_put_ch(&b, ')');
            log_end(&b);
        }
        return;
    }
    ace_trace_fd = fd;
    hak_buf_reset(&b);
    hak_put_str(&b, "t_s,tick,slow,slice,ops_per_s,llc_miss,llc_proxy,lock_wait_frac,backlog,p50_ns,p99_ns,"
                    "rss_mb,frag,partial_spans,cpu_pct,reward,t_term,m_term,l_term,f_term,b_term,pressure,idle,"
                    "group,arm,duel_blocks,duel_mean,duel_se,tls_cap_b0,tls_cap_b1,tls_cap_b2,tls_cap_b3,eff_cap_top,top_class,"
                    "drain_b0,drain_b1,drain_min,bundle,partial_pages,diet,scav_pages,scav_us,moves,stop,cpu_ms,"
                    "pages_released,pages_reused,ghost_hits,release_step,sparse_div,shrink_min,large_mb,hold_ms,"
                    "j_cpu_s,j_mib_s\n");
    hak_buf_write(ace_trace_fd, &b);
}

static int first_class_of_band(int band)
{
    for (int c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == band) return c;
    return 0;
}

static int top_class(const ace_metrics_t *m)
{
    int best = 0;
    for (int c = 1; c < HAK_NCLASS; c++) if (m->allocs[c] > m->allocs[best]) best = c;
    return best;
}

/* The knob columns: the first class of each TLS band, the busiest class's
 * effective cap, the drains, bundle, partial pages and diet. */
static void trace_knobs(hak_buf_t *b, const ace_metrics_t *m)
{
    uint32_t dmin = 0xffffffffu;
    int c, top = top_class(m);
    for (c = 0; c < HAK_TINY_CLASSES; c++) {
        uint32_t d = HAK_KNOB_GET(drain_threshold[c]);
        if (d < dmin) dmin = d;
    }
    for (c = 0; c < ACE_CAP_BANDS; c++) {
        hak_put_u64(b, HAK_KNOB_GET(tls_cap[first_class_of_band(c)])); hak_put_ch(b, ',');
    }
    hak_put_u64(b, hak_knobs_effective_cap(top)); hak_put_ch(b, ',');
    hak_put_u64(b, (uint64_t)top); hak_put_ch(b, ',');
    hak_put_u64(b, HAK_KNOB_GET(drain_threshold[0])); hak_put_ch(b, ',');
    hak_put_u64(b, HAK_KNOB_GET(drain_threshold[8])); hak_put_ch(b, ',');
    hak_put_u64(b, dmin); hak_put_ch(b, ',');
    hak_put_u64(b, HAK_KNOB_GET(bundle_width)); hak_put_ch(b, ',');
    hak_put_u64(b, HAK_KNOB_GET(partial_release_pages)); hak_put_ch(b, ',');
    hak_put_fix(b, HAK_KNOB_GET(diet_permille) / 1000.0, 3); hak_put_ch(b, ',');
}

static void trace_row(const ace_metrics_t *m, const ace_moves_t *o, uint64_t t0,
                      uint64_t scav_pages, uint64_t scav_ns)
{
    hak_buf_t b;
    if (ace_trace_fd < 0) return;
    hak_buf_reset(&b);
    hak_put_fix(&b, (double)(m->t_ns - t0) / 1e9, 3); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->tick); hak_put_ch(&b, ',');
    hak_put_u64(&b, (uint64_t)m->slow); hak_put_ch(&b, ',');
    hak_put_u64(&b, (uint64_t)m->slice); hak_put_ch(&b, ',');
    hak_put_fix(&b, m->ops_per_s, 0); hak_put_ch(&b, ',');
    if (m->llc_valid) hak_put_fix(&b, m->llc_miss_rate, 4); else hak_put_str(&b, "n/a");
    hak_put_ch(&b, ',');
    hak_put_fix(&b, m->llc_proxy, 4); hak_put_ch(&b, ',');
    hak_put_fix(&b, m->lock_wait_frac, 5); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->backlog_total); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->p50_ns); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->p99_ns); hak_put_ch(&b, ',');
    hak_put_fix(&b, (double)m->rss_bytes / 1048576.0, 2); hak_put_ch(&b, ',');
    hak_put_fix(&b, m->frag, 3); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->partial_spans); hak_put_ch(&b, ',');
    hak_put_fix(&b, m->cpu_percent < 0 ? 0 : m->cpu_percent, 3); hak_put_ch(&b, ',');
    if (o->reward_valid) {
        hak_put_fix(&b, o->reward, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->t_term, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->m_term, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->l_term, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->f_term, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->b_term, 4); hak_put_ch(&b, ',');
    } else hak_put_str(&b, ",,,,,,");
    hak_put_u64(&b, (uint64_t)o->pressure); hak_put_ch(&b, ',');
    hak_put_u64(&b, (uint64_t)o->idle); hak_put_ch(&b, ',');
    hak_put_str(&b, o->explore_group >= 0 ? ace_group_name(o->explore_group) : ""); hak_put_ch(&b, ',');
    hak_put_i64(&b, o->explore_arm); hak_put_ch(&b, ',');
    if (o->explore_group >= 0 || o->duel_group >= 0) {
        hak_put_u64(&b, o->duel_blocks); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->duel_mean, 4); hak_put_ch(&b, ',');
        hak_put_fix(&b, o->duel_se > 1 ? 1 : o->duel_se, 4); hak_put_ch(&b, ',');
    } else hak_put_str(&b, ",,,");
    trace_knobs(&b, m);
    hak_put_u64(&b, scav_pages); hak_put_ch(&b, ',');
    hak_put_u64(&b, scav_ns / 1000); hak_put_ch(&b, ',');
    hak_put_u64(&b, o->n); hak_put_ch(&b, ',');
    hak_put_u64(&b, (uint64_t)o->stop); hak_put_ch(&b, ',');
    hak_put_fix(&b, (double)m->cpu_total_ns / 1e6, 3); hak_put_ch(&b, ',');
    /* the memory rules: their counters, knobs and the books since start */
    hak_put_u64(&b, m->pages_released); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->pages_reused); hak_put_ch(&b, ',');
    hak_put_u64(&b, m->ghost_hits); hak_put_ch(&b, ',');
    hak_put_u64(&b, (uint64_t)ace_st.mem.level); hak_put_ch(&b, ',');
    hak_put_u64(&b, HAK_KNOB_GET(sparse_div)); hak_put_ch(&b, ',');
    hak_put_u64(&b, HAK_KNOB_GET(shrink_min)); hak_put_ch(&b, ',');
    hak_put_u64(&b, HAK_KNOB_GET(large_cache_mb)); hak_put_ch(&b, ',');
    hak_put_u64(&b, HAK_KNOB_GET(hold_ms)); hak_put_ch(&b, ',');
    hak_put_fix(&b, ace_st.mem.cpu_s, 3); hak_put_ch(&b, ',');
    hak_put_fix(&b, ace_st.mem.mib_s, 1);
    hak_put_ch(&b, '\n');
    hak_buf_write(ace_trace_fd, &b);
}

/* -------------------------------------------------------------- apply */
static int knob_fixed(const ace_move_t *mv)
{
    switch (mv->kind) {
    case ACE_K_TLS_CAP: return hak_knobs.fixed_tls_cap[mv->cls];
    case ACE_K_DRAIN:   return hak_knobs.fixed_drain[mv->cls];
    case ACE_K_BUNDLE:  return hak_knobs.fixed_bundle;
    case ACE_K_PARTIAL: return hak_knobs.fixed_partial;
    case ACE_K_SPARSE:  return hak_knobs.fixed_sparse;
    case ACE_K_SHRINK:  return hak_knobs.fixed_shrink;
    case ACE_K_LARGE_MB: return hak_knobs.fixed_large_cache;
    case ACE_K_HOLD:    return hak_knobs.fixed_hold;
    default:            return hak_knobs.fixed_diet;
    }
}

static void set_knob(const ace_move_t *mv)
{
    switch (mv->kind) {
    case ACE_K_TLS_CAP: HAK_KNOB_SET(tls_cap[mv->cls], mv->to); break;
    case ACE_K_DRAIN:   HAK_KNOB_SET(drain_threshold[mv->cls], mv->to); break;
    case ACE_K_BUNDLE:  HAK_KNOB_SET(bundle_width, mv->to); break;
    case ACE_K_PARTIAL: HAK_KNOB_SET(partial_release_pages, mv->to); break;
    case ACE_K_SPARSE:  HAK_KNOB_SET(sparse_div, mv->to); break;
    case ACE_K_SHRINK:  HAK_KNOB_SET(shrink_min, mv->to); break;
    case ACE_K_LARGE_MB: HAK_KNOB_SET(large_cache_mb, mv->to); break;
    case ACE_K_HOLD:    HAK_KNOB_SET(hold_ms, mv->to); break;
    default:            HAK_KNOB_SET(diet_permille, mv->to); break;
    }
}

/* "[ACE] Drain threshold[3]: 128 → 64 (high backlog, backlog=472)" */
static void log_move(const ace_metrics_t *m, const ace_move_t *mv)
{
    static const char *title[] = {
        [ACE_K_TLS_CAP] = "Adjusting TLS cap", [ACE_K_DRAIN] = "Drain threshold", [ACE_K_BUNDLE] = "Bundle width",
        [ACE_K_PARTIAL] = "Partial release pages", [ACE_K_DIET] = "Diet factor",
        [ACE_K_SPARSE] = "Sparse span divisor", [ACE_K_SHRINK] = "Shrink minimum",
        [ACE_K_LARGE_MB] = "Large cache bound (MiB)", [ACE_K_HOLD] = "Hold time (ms)"
    };
    hak_buf_t b;
    log_begin(&b);
    hak_put_str(&b, title[mv->kind]);
    if (mv->kind == ACE_K_TLS_CAP || mv->kind == ACE_K_DRAIN) {
        hak_put_ch(&b, '['); hak_put_u64(&b, (uint64_t)mv->cls); hak_put_ch(&b, ']');
    }
    hak_put_str(&b, ": ");
    if (mv->kind == ACE_K_DIET) { put_diet(&b, mv->from); hak_put_str(&b, " → "); put_diet(&b, mv->to); }
    else { hak_put_u64(&b, mv->from); hak_put_str(&b, " → "); hak_put_u64(&b, mv->to); }
    hak_put_str(&b, " ("); hak_put_str(&b, reason_text(mv->kind, mv->reason));
    if (mv->kind == ACE_K_TLS_CAP) {
        hak_put_str(&b, ", group "); hak_put_str(&b, ace_group_name(ACE_G_CAP0 + ace_cap_band(mv->cls)));
    } else if (mv->kind == ACE_K_DRAIN && mv->reason == ACE_R_BACKLOG) {
        hak_put_str(&b, ", backlog="); hak_put_u64(&b, m->backlog[mv->cls]);
    } else if (mv->kind == ACE_K_BUNDLE && mv->reason == ACE_R_LOCKS) {
        hak_put_str(&b, ", lock wait="); hak_put_fix(&b, m->lock_wait_frac * 100, 2); hak_put_ch(&b, '%');
    } else if (mv->kind == ACE_K_PARTIAL && mv->reason == ACE_R_REFAULT) {
        hak_put_str(&b, ": madvise "); hak_put_fix(&b, m->madvise_ns / 1e6, 1);
        hak_put_str(&b, " ms + "); hak_put_u64(&b, m->pages_reused); hak_put_str(&b, " re-faults cost ");
        hak_put_fix(&b, ace_st.mem.cost_ns / 1e6, 1); hak_put_str(&b, " ms > ");
        hak_put_fix(&b, ace_st.mem.value_ns / 1e6, 1); hak_put_str(&b, " ms of memory saved");
    } else if (mv->kind == ACE_K_LARGE_MB && mv->reason == ACE_R_GHOST) {
        hak_put_str(&b, ", ghost hits="); hak_put_u64(&b, m->ghost_hits);
    } else if (mv->kind == ACE_K_HOLD) {
        hak_put_str(&b, ", release+fault="); hak_put_fix(&b, (ace_st.mem.c_release_ns + ace_st.mem.c_fault_ns) / 1000, 2);
        hak_put_str(&b, " µs/page at "); hak_put_fix(&b, ace_st.cfg.mem.price, 3); hak_put_str(&b, " cores/GiB");
    } else if (mv->kind == ACE_K_DIET) {
        if (m->llc_valid) { hak_put_str(&b, ", llc_miss="); hak_put_fix(&b, m->llc_miss_rate, 2); }
        else { hak_put_str(&b, ", llc_miss=n/a llc_proxy="); hak_put_fix(&b, m->llc_proxy, 2); }
    }
    hak_put_ch(&b, ')');
    log_end(&b);
}

/* Apply the moves with HAK_KNOB_SET (fixed knobs skipped) and log them.
 * Per-class lines are printed at level 1 for classes with traffic this tick
 * (the ones a reader cares about), at level 2 for all; backlog drain moves
 * and their restores at level 1 always. */
static void apply_moves(const ace_metrics_t *m, const ace_moves_t *o)
{
    uint32_t i, eff_before[HAK_NCLASS];
    int c, diet_moved = 0;
    hak_buf_t b;
    for (c = 0; c < HAK_NCLASS; c++) eff_before[c] = hak_knobs_effective_cap(c);
    for (i = 0; i < o->n; i++) {
        const ace_move_t *mv = &o->mv[i];
        /* a duel switches arms every slice: those moves at level 2 only */
        int show = ace_log_level >= 2 || (ace_log_level >= 1 && mv->reason != ACE_R_EXPLORE &&
                                          (mv->cls < 0 || m->allocs[mv->cls] > 0));
        if (knob_fixed(mv)) continue;
        set_knob(mv);
        diet_moved |= mv->kind == ACE_K_DIET && (show || ace_log_level >= 2);
        if (show || (ace_log_level >= 1 && mv->kind == ACE_K_DRAIN &&
                     (mv->reason == ACE_R_BACKLOG || mv->reason == ACE_R_RESTORE)))
            log_move(m, mv);
    }
    /* the diet's effect on the busy classes, in the seed's form */
    if (diet_moved && ace_log_level >= 1) {
        uint32_t diet = HAK_KNOB_GET(diet_permille);
        for (c = 0; c < HAK_NCLASS; c++) {
            uint32_t now = hak_knobs_effective_cap(c);
            if (now == eff_before[c] || hak_knobs.fixed_tls_cap[c]) continue;
            if (ace_log_level < 2 && m->allocs[c] == 0) continue;
            log_begin(&b);
            hak_put_str(&b, "Adjusting TLS cap["); hak_put_u64(&b, (uint64_t)c); hak_put_str(&b, "]: ");
            hak_put_u64(&b, eff_before[c]); hak_put_str(&b, " → "); hak_put_u64(&b, now);
            hak_put_str(&b, " (diet factor="); put_diet(&b, diet); hak_put_ch(&b, ')');
            log_end(&b);
        }
    }
}

static void put_arm(hak_buf_t *b, int g, int a)
{
    if (g == ACE_G_DIET) put_diet(b, ace_group_value(g, a));
    else hak_put_u64(b, ace_group_value(g, a));
}

/* "[ACE] Duel diet: 0.90 vs 1.00 (in force): +12.1% ± 3.0% over 6 blocks of 4 × 20 ms: 0.90 in force" */
static void log_duel(const ace_moves_t *o, const ace_config_t *cfg)
{
    hak_buf_t b;
    int g = o->duel_group;
    log_begin(&b);
    hak_put_str(&b, "Duel "); hak_put_str(&b, ace_group_name(g)); hak_put_str(&b, ": ");
    put_arm(&b, g, o->duel_chal); hak_put_str(&b, " vs "); put_arm(&b, g, o->duel_champ);
    hak_put_str(&b, " (in force): ");
    if (o->duel_mean >= 0) hak_put_ch(&b, '+');
    hak_put_fix(&b, o->duel_mean * 100, 1); hak_put_str(&b, "% ± ");
    hak_put_fix(&b, o->duel_se * 100, 1); hak_put_str(&b, "% over ");
    hak_put_u64(&b, o->duel_blocks); hak_put_str(&b, " blocks of 4 × ");
    hak_put_fix(&b, cfg->slice_ns / 1e6, 0); hak_put_str(&b, " ms: ");
    if (o->duel_verdict == ACE_DUEL_WIN) { put_arm(&b, g, o->duel_chal); hak_put_str(&b, " in force"); }
    else {
        hak_put_str(&b, o->duel_verdict == ACE_DUEL_ABORT ? "clearly worse, " : "no gain, ");
        put_arm(&b, g, o->duel_champ); hak_put_str(&b, " kept");
    }
    log_end(&b);
}

static void log_phase(const ace_moves_t *o)
{
    static const char *band[ACE_CAP_BANDS] = { "16-128B", "144B-1K", "1K-16K", "16K-256K" };
    hak_buf_t b;
    log_begin(&b);
    hak_put_str(&b, "Phase change: most allocations now in ");
    hak_put_str(&b, band[o->phase_to]); hak_put_str(&b, " (were in "); hak_put_str(&b, band[o->phase_from]);
    hak_put_str(&b, "): bandits start over");
    log_end(&b);
}

static void log_scavenge(const char *what, const ace_scavenge_result_t *r, uint64_t budget, const ace_metrics_t *m,
                         uint32_t pages_per_span)
{
    hak_buf_t b;
    size_t pages = r->pages_empty + r->pages_partial;
    log_begin(&b);
    hak_put_str(&b, what);
    hak_put_str(&b, ": released "); hak_put_u64(&b, pages);
    hak_put_str(&b, " pages ("); hak_put_u64(&b, (uint64_t)pages * 4);
    hak_put_str(&b, " KiB: "); hak_put_u64(&b, r->pages_empty); hak_put_str(&b, " empty + ");
    hak_put_u64(&b, r->pages_partial); hak_put_str(&b, " partial, N=");
    if (pages_per_span == ACE_ALL_PAGES) hak_put_str(&b, "all"); else hak_put_u64(&b, pages_per_span);
    hak_put_str(&b, " pages/span) in "); hak_put_u64(&b, r->elapsed_ns / 1000);
    hak_put_str(&b, " µs (CPU "); hak_put_u64(&b, r->cpu_ns / 1000);
    hak_put_str(&b, " µs, budget "); hak_put_u64(&b, budget / 1000); hak_put_str(&b, " µs CPU");
    if (r->hit_deadline) hak_put_str(&b, ", budget spent");
    hak_put_str(&b, "), frag="); hak_put_fix(&b, m->frag, 2);
    hak_put_str(&b, ", rss="); hak_put_fix(&b, (double)m->rss_bytes / 1048576.0, 1); hak_put_str(&b, " MiB");
    log_end(&b);
}

static void log_fast(const ace_metrics_t *m, const ace_moves_t *o)
{
    hak_buf_t b;
    log_begin(&b);
    hak_put_str(&b, m->slow ? "Slow loop: reward=" : "Fast loop: reward=");
    if (o->reward_valid) hak_put_fix(&b, o->reward, 2); else hak_put_str(&b, "n/a");
    if (m->llc_valid) { hak_put_str(&b, ", llc_miss="); hak_put_fix(&b, m->llc_miss_rate, 2); }
    else { hak_put_str(&b, ", llc_miss=n/a llc_proxy="); hak_put_fix(&b, m->llc_proxy, 2); }
    hak_put_str(&b, ", backlog="); hak_put_u64(&b, m->backlog_total);
    if (ace_log_level >= 2 || m->slow) {
        hak_put_str(&b, ", ops/s="); hak_put_fix(&b, m->ops_per_s, 0);
        hak_put_str(&b, ", lock_wait="); hak_put_fix(&b, m->lock_wait_frac * 100, 3); hak_put_ch(&b, '%');
        hak_put_str(&b, ", p50="); hak_put_u64(&b, m->p50_ns);
        hak_put_str(&b, "ns p99="); hak_put_u64(&b, m->p99_ns);
        hak_put_str(&b, "ns, rss="); hak_put_fix(&b, (double)m->rss_bytes / 1048576.0, 1);
        hak_put_str(&b, " MiB, frag="); hak_put_fix(&b, m->frag, 2);
        hak_put_str(&b, ", partial_spans="); hak_put_u64(&b, m->partial_spans);
        if (o->idle) hak_put_str(&b, ", idle");
        if (o->pressure) hak_put_str(&b, ", LLC pressure");
        if (o->explore_group >= 0) {
            hak_put_str(&b, ", exploring "); hak_put_str(&b, ace_group_name(o->explore_group));
            hak_put_str(&b, " arm "); hak_put_i64(&b, o->explore_arm);
        }
        hak_put_str(&b, ", refills/kop="); hak_put_fix(&b, m->refills_per_kop, 2);
        hak_put_str(&b, " flushes/kop="); hak_put_fix(&b, m->flushes_per_kop, 2);
    }
    if (m->slow) {
        /* the seed's reward with memory priced: J = CPU-s + lambda MiB-s */
        hak_put_str(&b, ", J="); hak_put_fix(&b, o->j, 3);
        hak_put_str(&b, " (cpu="); hak_put_fix(&b, o->j_cpu_s, 3);
        hak_put_str(&b, " s + "); hak_put_fix(&b, ace_mem_lambda(&ace_st.cfg.mem) * 1e3, 4);
        hak_put_str(&b, "e-3 x "); hak_put_fix(&b, o->j_mib_s, 1);
        hak_put_str(&b, " MiB·s), hold="); hak_put_u64(&b, ace_st.mem.hold_ns / 1000000);
        hak_put_str(&b, " ms, release step="); hak_put_u64(&b, (uint64_t)ace_st.mem.level);
    }
    log_end(&b);
}

/* ------------------------------------------------------------- thread */
static void valve(const ace_metrics_t *m, int stop)
{
    hak_buf_t b;
    hak_knobs_restore_static();
    __atomic_store_n(&ace_flag, ACE_STOPPED, __ATOMIC_RELEASE);
    log_begin(&b);
    hak_put_str(&b, "Safety valve: ");
    hak_put_str(&b, ace_stop_reason(stop));
    hak_put_str(&b, " (");
    if (stop == ACE_STOP_P99) {
        hak_put_str(&b, "p99="); hak_put_u64(&b, m->p99_ns); hak_put_str(&b, "ns > ");
        hak_put_u64(&b, ace_st.cfg.max_p99_ns); hak_put_str(&b, "ns");
    } else if (stop == ACE_STOP_RSS) {
        hak_put_str(&b, "rss="); hak_put_fix(&b, (double)m->rss_bytes / 1048576.0, 1); hak_put_str(&b, " MiB > ");
        hak_put_fix(&b, (double)ace_st.cfg.max_rss_bytes / 1048576.0, 1); hak_put_str(&b, " MiB");
    } else {
        hak_put_str(&b, "cpu="); hak_put_fix(&b, m->cpu_percent, 3); hak_put_str(&b, "% > ");
        hak_put_fix(&b, ace_st.cfg.max_cpu_percent, 3); hak_put_ch(&b, '%');
    }
    hak_put_str(&b, "): ACE stopped for the rest of the process, static knobs restored");
    log_end(&b);
}

/* A process ends when its last thread calls pthread_exit, so ACE's thread must
 * never be that last thread (a program whose threads all pthread_exit would
 * hang).  Checked once a tick: is any other task of the process alive (a
 * thread-group leader that called pthread_exit stays as a zombie task)? */
static int other_task_alive(int tid, void *me)
{
    return tid != *(const int *)me && hak_os_task_alive(tid);
}

static int ace_alone(void)
{
    int me = hak_os_gettid();
    return hak_os_foreach_task(other_task_alive, &me) == 0;   /* -1 (unreadable): not alone */
}

static void log_start(const ace_config_t *cfg)
{
    hak_buf_t b;
    log_begin(&b);
    hak_put_str(&b, "started: fast="); hak_put_fix(&b, cfg->fast_interval_ns / 1e6, 1);
    hak_put_str(&b, "ms slow="); hak_put_fix(&b, cfg->slow_interval_ns / 1e6, 1);
    hak_put_str(&b, "ms slice="); hak_put_fix(&b, cfg->slice_ns / 1e6, 1);
    hak_put_str(&b, "ms max_p99="); hak_put_u64(&b, cfg->max_p99_ns);
    hak_put_str(&b, "ns max_rss="); hak_put_u64(&b, cfg->max_rss_bytes >> 20);
    hak_put_str(&b, "MiB max_cpu="); hak_put_fix(&b, cfg->max_cpu_percent, 2);
    hak_put_str(&b, "% LLC="); hak_put_u64(&b, ace_col.llc_bytes >> 10);
    hak_put_str(&b, ace_col.tsc_per_ns > 0 ? "KiB timer=rdtscp cost=" : "KiB timer=clock_gettime cost=");
    hak_put_u64(&b, ace_col.timer_cost_ns); hak_put_str(&b, "ns (subtracted)");
    log_end(&b);
    if (ace_col.perf_state < 0) {
        log_begin(&b);
        hak_put_str(&b, "LLC miss counters unavailable (perf_event_open errno=");
        hak_put_u64(&b, (uint64_t)ace_col.perf_errno);
        hak_put_str(&b, "): llc_miss=n/a, using llc_proxy = hot working set / LLC size (");
        hak_put_u64(&b, ace_col.llc_bytes >> 10);
        hak_put_str(&b, " KiB)");
        log_end(&b);
    }
}

/* The release actions ace_step asked for, each within its budget. */
static void run_releases(const ace_moves_t *o, const ace_metrics_t *m, uint64_t *pages, uint64_t *ns)
{
    ace_scavenge_result_t r;
    uint64_t cpu = 0;
    int hit = 0;
    if (o->partial_release_pages) {
        ace_scavenge_partial(o->partial_release_pages, o->budget_ns, &r);
        *pages += r.pages_empty + r.pages_partial; *ns += r.elapsed_ns; hit |= r.hit_deadline; cpu += r.cpu_ns;
        if (ace_log_level >= 1) log_scavenge("Partial release (fragmentation)", &r, o->budget_ns, m, o->partial_release_pages);
    }
    if (o->scavenge) {
        /* idle: nobody is allocating, so every free page inside a partly used
         * span goes (no refault cost to weigh); RSS up: N per span */
        static const char *what[] = { [ACE_SCAV_RSS_UP] = "Scavenge (RSS up)", [ACE_SCAV_IDLE] = "Scavenge (idle)",
                                      [ACE_SCAV_TARGET] = "Scavenge (above the RSS target)" };
        int all = o->scavenge != ACE_SCAV_RSS_UP;
        uint32_t n = all ? ACE_ALL_PAGES : HAK_KNOB_GET(partial_release_pages);
        ace_scavenge_budgeted(n, o->budget_ns, &r);
        if (all) {   /* idle or over the target: keep nothing warm */
            uint64_t c0 = hak_os_thread_cpu_ns();
            r.pages_empty += hak_large_release_cache();
            r.cpu_ns += hak_os_thread_cpu_ns() - c0;
        }
        *pages += r.pages_empty + r.pages_partial; *ns += r.elapsed_ns; hit |= r.hit_deadline; cpu += r.cpu_ns;
        if (ace_log_level >= 1) log_scavenge(what[o->scavenge], &r, o->budget_ns, m, n);
    }
    if (o->partial_release_pages || o->scavenge) ace_collector_note_scavenge(&ace_col, *pages, cpu, hit);
    /* the hold time holds even when the program makes no Large call for a
     * while (the core's own decay pass runs on Large calls) */
    if (!m->slice) *pages += hak_large_decay(m->t_ns);
}

/* One wake: observe, decide, apply.  Returns 0 when a valve stopped ACE. */
static int ace_wake(const ace_config_t *cfg, uint64_t t0, int slow, int slice)
{
    uint64_t pages = 0, ns = 0;
    ace_collect(&ace_col, &ace_m, slow, slice);
    ace_step(&ace_m, &ace_st, &ace_out);
    if (ace_out.stop) {
        valve(&ace_m, ace_out.stop);
        trace_row(&ace_m, &ace_out, t0, 0, 0);
        return 0;
    }
    if (ace_out.phase_change && ace_log_level >= 1) log_phase(&ace_out);
    if (ace_out.duel_verdict && ace_log_level >= 1) log_duel(&ace_out, cfg);
    apply_moves(&ace_m, &ace_out);
    run_releases(&ace_out, &ace_m, &pages, &ns);
    if (!slice && (ace_log_level >= 2 || (ace_log_level >= 1 &&
        (ace_m.slow || ace_m.tick % (uint32_t)(1 + 1000000000ull / cfg->fast_interval_ns) == 0))))
        log_fast(&ace_m, &ace_out);
    trace_row(&ace_m, &ace_out, t0, pages, ns);
    return 1;
}

/* Fast ticks every fast interval; while a duel runs, slices in between. */
static void *ace_main(void *arg)
{
    ace_config_t cfg;
    uint64_t t0, next, next_slow, wake;
    (void)arg;

    read_config(&cfg);
    ace_log_level = (int)hak_option_u64(HAK_OPT_ACE_LOG_LEVEL);
    ace_collector_init(&ace_col);
    ace_state_init(&ace_st, &cfg, &hak_knobs_static);
    trace_open();
    if (ace_log_level >= 1) log_start(&cfg);

    t0 = hak_now_ns();
    ace_collect(&ace_col, &ace_m, 0, 0);            /* baseline for the deltas */
    ace_step(&ace_m, &ace_st, &ace_out);
    next = t0 + cfg.fast_interval_ns;
    next_slow = t0 + cfg.slow_interval_ns;
    for (wake = next;;) {
        uint64_t now;
        int slow, slice;
        hak_os_sleep_until(wake);
        now = hak_now_ns();
        slice = wake < next;
        slow = 0;
        if (!slice) {
            if (ace_alone())
                return NULL;   /* every program thread called pthread_exit: let the process end */
            next += cfg.fast_interval_ns;
            if (next <= now) next = now + cfg.fast_interval_ns;
            slow = now >= next_slow;
            if (slow) { next_slow += cfg.slow_interval_ns; if (next_slow <= now) next_slow = now + cfg.slow_interval_ns; }
        }
        if (!ace_wake(&cfg, t0, slow, slice)) return NULL;
        /* the next slice, unless the fast tick comes first (or nearly: a
         * slice shorter than half a slice is folded into the tick) */
        wake = next;
        if (ace_out.slice_ns && now + ace_out.slice_ns + ace_out.slice_ns / 2 <= next) wake = now + ace_out.slice_ns;
    }
    return NULL;
}

/* ---------------------------------------------------------- lifecycle */
void hak_ace_maybe_start(void)
{
    int s = __atomic_load_n(&ace_flag, __ATOMIC_ACQUIRE);
    int expect = ACE_UNKNOWN;
    if (__builtin_expect(s != ACE_UNKNOWN, 1)) return;
    /* one thread gets past here: it reads ACE's options (the environment as
     * it is now; again in a forked child) and starts the thread.  Re-entry
     * guard too: pthread_create allocates, and the new thread's first
     * allocation comes back here; both see ACE_STARTING and return */
    if (!__atomic_compare_exchange_n(&ace_flag, &expect, ACE_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    hak_options_parse(HAK_OPT_ACE);
    if (!hak_option_u64(HAK_OPT_ACE_ENABLED)) {
        __atomic_store_n(&ace_flag, ACE_OFF, __ATOMIC_RELEASE);
        return;
    }
    if (hak_os_spawn_detached(ace_main, NULL, 256 * 1024) != 0) {
        __atomic_store_n(&ace_flag, ACE_STOPPED, __ATOMIC_RELEASE);
    } else {
        expect = ACE_STARTING;   /* the thread may already have stopped itself */
        __atomic_compare_exchange_n(&ace_flag, &expect, ACE_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}

void hak_ace_atfork_child(void)
{
    int s = __atomic_load_n(&ace_flag, __ATOMIC_ACQUIRE);
    /* the parent's thread does not exist here: close its descriptors (the
     * child's thread opens its own trace, <path>.<pid>) and let the next
     * hak_ace_maybe_start() launch a fresh one.  A valve that fired in the
     * parent stays fired; "off" stays off. */
    if (ace_trace_fd >= 0) { hak_os_close(ace_trace_fd); ace_trace_fd = -1; }
    ace_collector_close(&ace_col);
    if (s == ACE_STARTING || s == ACE_RUNNING)
        __atomic_store_n(&ace_flag, ACE_UNKNOWN, __ATOMIC_RELEASE);
}

/* ACE hooks itself into the core: the refill slow path starts its thread
 * (again in a forked child, whose handler resets it).  libhakmem.a is one
 * relocatable object, so this is linked wherever the allocator is. */
__attribute__((constructor)) static void ace_hook_in(void)
{
    hak_os_atfork(NULL, NULL, hak_ace_atfork_child);
    __atomic_store_n(&hak_refill_hook, hak_ace_maybe_start, __ATOMIC_RELEASE);
}
