/* ACE decide step: fast loop, slow loop, UCB1 schedule, safety valves.
 * Pure: reads only its arguments.  See hakmem_ace_controller.h, docs/ACE.md. */
#include "hakmem_ace_controller.h"
#include "hakmem_options.h"
#include <stddef.h>
#include <string.h>

const uint32_t ace_cand_tls_cap[5] = { 4, 8, 16, 32, 64 };
const uint32_t ace_cand_drain[5]   = { 32, 64, 128, 256, 512 };
const uint32_t ace_cand_partial[4] = { 1, 2, 4, 8 };
const uint32_t ace_cand_diet[5]    = { 500, 660, 750, 900, 1000 };
const uint32_t ace_cand_bundle[4]  = { 16, 32, 64, 128 };

static const uint32_t *group_cand(int g, int *n)
{
    if (g < ACE_G_DRAIN0) { *n = 5; return ace_cand_tls_cap; }
    if (g < ACE_G_BUNDLE) { *n = 5; return ace_cand_drain; }
    if (g == ACE_G_BUNDLE) { *n = 4; return ace_cand_bundle; }
    if (g == ACE_G_PARTIAL) { *n = 4; return ace_cand_partial; }
    *n = 5; return ace_cand_diet;
}

const char *ace_group_name(int g)
{
    static const char *names[ACE_G_N] = {
        "tls_cap[16-128B]", "tls_cap[144B-1K]", "tls_cap[1K-16K]", "tls_cap[16K-256K]",
        "drain[16-128B]", "drain[144B-1K]", "bundle", "partial_pages", "diet"
    };
    return (g >= 0 && g < ACE_G_N) ? names[g] : "none";
}

const char *ace_stop_reason(int stop)
{
    switch (stop) {
    case ACE_STOP_P99: return "p99 latency above HAKMEM_ACE_MAX_P99_LAT_NS";
    case ACE_STOP_RSS: return "RSS above HAKMEM_ACE_MAX_RSS_MB";
    case ACE_STOP_CPU: return "ACE thread CPU above HAKMEM_ACE_MAX_CPU_PERCENT";
    default: return "none";
    }
}

int ace_cap_band(int c)
{
    if (c < 8) return 0;
    if (c < HAK_TINY_CLASSES) return 1;
    if (c < HAK_TINY_CLASSES + 16) return 2;
    return 3;
}

int ace_drain_band(int c)
{
    if (c < 8) return 0;
    if (c < HAK_TINY_CLASSES) return 1;
    return -1;
}

int ace_cand_index(const uint32_t *cand, int n, uint32_t v)
{
    int i, best = 0;
    uint32_t bd = 0xffffffffu;
    for (i = 0; i < n; i++) {
        uint32_t d = cand[i] > v ? cand[i] - v : v - cand[i];
        if (d < bd) { bd = d; best = i; }
    }
    return best;
}

static uint32_t cand_step(const uint32_t *cand, int n, uint32_t v, int delta)
{
    int i = ace_cand_index(cand, n, v) + delta;
    if (i < 0) i = 0;
    if (i >= n) i = n - 1;
    return cand[i];
}

static double clamp01(double x) { return x < 0 ? 0 : (x > 1 ? 1 : x); }

void ace_config_default(ace_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->fast_interval_ns = HAK_DEF_ACE_FAST_INTERVAL_MS * 1000000ull;
    c->slow_interval_ns = HAK_DEF_ACE_SLOW_INTERVAL_S * 1000000000ull;
    c->max_p99_ns = HAK_DEF_ACE_MAX_P99_LAT_NS;
    c->max_rss_bytes = (uint64_t)HAK_DEF_ACE_MAX_RSS_MB << 20;
    c->max_cpu_percent = HAK_DEF_ACE_MAX_CPU_PERCENT;
    c->backlog_min = 16;
    c->backlog_div = 4;
    c->max_drain_steps = 3;
    c->llc_miss_hi = 0.30; c->llc_miss_lo = 0.15;
    c->llc_proxy_hi = 1.0; c->llc_proxy_lo = 0.5;
    c->lock_hi = 0.02; c->lock_lo = 0.005;
    c->max_bundle_steps = 2;
    c->lock_relief = 0.75;
    c->trigger_ticks = 2;
    c->stable_ticks = 4;
    c->frag_hi = 1.5;
    c->frag_min_bytes = 1u << 20;
    c->rss_up_ratio = 1.10;
    c->rss_up_min_bytes = 4u << 20;
    c->idle_ops_per_s = 1000;
    c->scavenge_budget_ns = 5000000ull;
    c->hold_ticks = HAK_DEF_ACE_HOLD_TICKS;
    c->warmup_ticks = 1;
    c->settle_ticks = 5;
    c->revisit_pulls = 2;
    c->revisit_ticks = 20;
    c->revisit_ticks_max = 320;
    c->gap_ticks = 2;
    c->ucb_c = 0.2;
    c->ucb_hysteresis = 0.01;
    c->commit_z = 2.0;
    c->early_cut = 0.05;
    c->prune_margin = 0.025;
    c->ucb_cooldown = 20;
    c->w_tput = 1.0; c->w_miss = 0.2; c->w_lock = 0.2; c->w_frag = 0.1;
}

static uint32_t static_group_value(const hak_knobs_t *k, int g)
{
    int c;
    if (g < ACE_G_DRAIN0) {
        for (c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g - ACE_G_CAP0) return k->tls_cap[c];
    } else if (g < ACE_G_BUNDLE) {
        for (c = 0; c < HAK_TINY_CLASSES; c++) if (ace_drain_band(c) == g - ACE_G_DRAIN0) return k->drain_threshold[c];
    } else if (g == ACE_G_BUNDLE) return k->bundle_width;
    else if (g == ACE_G_PARTIAL) return k->partial_release_pages;
    return k->diet_permille;
}

static void init_bandits(ace_state_t *st)
{
    for (int g = 0; g < ACE_G_N; g++) {
        int n;
        const uint32_t *cand = group_cand(g, &n);
        uint32_t v = static_group_value(&st->stat, g);
        /* the diet's arm in force under pressure starts at 0.75 (the seed's
         * example) when the static diet is "no diet" */
        if (g == ACE_G_DIET && v >= 1000 && !st->stat.fixed_diet) v = 750;
        ace_ucb1_init(&st->bandit[g], (uint32_t)n, ace_cand_index(cand, n, v),
                      st->cfg.ucb_c, st->cfg.ucb_hysteresis, st->cfg.ucb_cooldown);
        st->bandit[g].z = st->cfg.commit_z;
        st->learned[g] = 0;
        st->revisit_wait[g] = 0;
        st->next_visit[g] = 0;
    }
    st->explore_g = -1;
    st->explore_arm = -1;
    st->gap_left = 0;
}

void ace_state_init(ace_state_t *st, const ace_config_t *cfg, const hak_knobs_t *stat)
{
    memset(st, 0, sizeof *st);
    st->cfg = *cfg;
    st->stat = *stat;
    init_bandits(st);
    st->diet_permille = stat->diet_permille;
    st->phase_band = -1;
}

/* ------------------------------------------------------------ helpers */
static int group_has_free_knob(const ace_state_t *st, int g)
{
    const hak_knobs_t *k = &st->stat;
    int c;
    if (g < ACE_G_DRAIN0) {
        for (c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g && !k->fixed_tls_cap[c]) return 1;
        return 0;
    }
    if (g < ACE_G_BUNDLE) {
        for (c = 0; c < HAK_TINY_CLASSES; c++) if (ace_drain_band(c) == g - ACE_G_DRAIN0 && !k->fixed_drain[c]) return 1;
        return 0;
    }
    if (g == ACE_G_BUNDLE) return !k->fixed_bundle;
    if (g == ACE_G_PARTIAL) return !k->fixed_partial;
    return !k->fixed_diet && !(st->cfg.w_miss <= 0);
}

/* Is exploring group g worth it now?  Only where its knob sees traffic. */
static int group_relevant(const ace_metrics_t *m, const ace_state_t *st, int g)
{
    uint64_t tot = 0, band = 0, rem = 0;
    int c;
    if (!group_has_free_knob(st, g)) return 0;
    for (c = 0; c < HAK_NCLASS; c++) tot += m->allocs[c];
    if (tot < 1000) return 0;
    if (g < ACE_G_DRAIN0) {
        for (c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g) band += m->allocs[c];
        return band * 20 >= tot;                       /* >= 5 % of allocations */
    }
    if (g < ACE_G_BUNDLE) {
        for (c = 0; c < HAK_TINY_CLASSES; c++)
            if (ace_drain_band(c) == g - ACE_G_DRAIN0) { band += m->allocs[c]; rem += m->remote[c]; }
        return rem >= 100 && rem * 100 >= band;        /* >= 1 % remote frees */
    }
    if (g == ACE_G_BUNDLE) {
        for (c = HAK_TINY_CLASSES; c < HAK_NCLASS; c++) band += m->allocs[c];
        return band * 20 >= tot;
    }
    if (g == ACE_G_PARTIAL) return m->frag >= 1.2;
    return st->pressure;                                /* diet: only under LLC pressure */
}

/* Does a rule's metric point at group g?  LLC pressure -> diet, backlog ->
 * drain, lock wait -> bundle, fragmentation -> partial release pages. */
static int group_signal(const ace_metrics_t *m, const ace_state_t *st, int g)
{
    int c;
    if (g == ACE_G_DIET) return st->pressure;
    if (g == ACE_G_BUNDLE) return st->lock_run || st->bundle_corr;
    if (g == ACE_G_PARTIAL) return m->frag >= st->cfg.frag_hi;
    if (g >= ACE_G_DRAIN0 && g < ACE_G_BUNDLE)
        for (c = 0; c < HAK_TINY_CLASSES; c++)
            if (ace_drain_band(c) == g - ACE_G_DRAIN0 && (st->backlog_run[c] || st->drain_corr[c])) return 1;
    return 0;
}

static int arm_in_force(const ace_state_t *st, int g)
{
    return st->explore_g == g ? st->explore_arm : st->bandit[g].committed;
}

/* The value the bandit wants for group g (the static value until learned). */
static uint32_t bandit_value(const ace_state_t *st, int g, uint32_t static_v)
{
    int n;
    const uint32_t *cand = group_cand(g, &n);
    if (!st->learned[g] && st->explore_g != g) return static_v;
    return cand[arm_in_force(st, g)];
}

static void push_move(ace_moves_t *out, int kind, int cls, uint32_t from, uint32_t to, int reason)
{
    if (from == to || out->n >= ACE_MAX_MOVES) return;
    out->mv[out->n].kind = (uint8_t)kind;
    out->mv[out->n].reason = (uint8_t)reason;
    out->mv[out->n].cls = (int16_t)cls;
    out->mv[out->n].from = from;
    out->mv[out->n].to = to;
    out->n++;
}

static double miss_value(const ace_metrics_t *m) { return m->llc_valid ? m->llc_miss_rate : m->llc_proxy; }

static void compute_reward(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    double miss = miss_value(m), fe = m->frag > 1 ? m->frag - 1 : 0;
    double miss_floor = m->llc_valid ? 0.02 : 0.25;
    if (!st->base_init) {
        st->base_ops = m->ops_per_s; st->base_miss = miss;
        st->base_lock = m->lock_wait_frac; st->base_frag = fe;
        st->base_init = 1;
    }
    out->t_term = clamp01(0.5 * m->ops_per_s / (st->base_ops > 1 ? st->base_ops : 1));
    out->m_term = clamp01(0.5 * miss / (st->base_miss > miss_floor ? st->base_miss : miss_floor));
    out->l_term = clamp01(0.5 * m->lock_wait_frac / (st->base_lock > 0.005 ? st->base_lock : 0.005));
    out->f_term = clamp01(0.5 * fe / (st->base_frag > 0.1 ? st->base_frag : 0.1));
    out->reward = c->w_tput * out->t_term
                - (c->w_miss * out->m_term + c->w_lock * out->l_term + c->w_frag * out->f_term);
    out->reward_valid = 1;
    /* running baselines: plain means while the program settles (its first
     * ticks start threads and fault memory in), then an EWMA over ~20 ticks */
    double a = st->busy_ticks < 20 ? 1.0 / (st->busy_ticks + 1) : 0.05;
    st->base_ops  = (1 - a) * st->base_ops  + a * m->ops_per_s;
    st->base_miss = (1 - a) * st->base_miss + a * miss;
    st->base_lock = (1 - a) * st->base_lock + a * m->lock_wait_frac;
    st->base_frag = (1 - a) * st->base_frag + a * fe;
}

static void bandit_tick(const ace_metrics_t *m, ace_state_t *st, double r)
{
    const ace_config_t *c = &st->cfg;
    int g = st->explore_g;
    if (g >= 0) {
        if (!group_relevant(m, st, g)) {        /* traffic went away: abandon the visit */
            st->explore_g = -1;
            st->explore_arm = -1;
            st->gap_left = c->gap_ticks;
            return;
        }
        st->arm_ticks++;
        if (st->arm_ticks > c->warmup_ticks) { st->arm_sum += r; st->arm_sumsq += r * r; st->arm_n++; }
        /* an arm whose first scored tick is clearly below the group's best
         * mean ends its pull early: a bad candidate costs 2 ticks, not 4 */
        int best = ace_ucb1_best(&st->bandit[g]);
        int cut = st->arm_n == 1 && best != st->explore_arm && st->bandit[g].count[best] &&
                  r < ace_ucb1_mean(&st->bandit[g], best) - c->early_cut;
        if ((st->arm_ticks >= c->hold_ticks || cut) && st->arm_n) {
            ace_ucb1_update(&st->bandit[g], st->explore_arm, st->arm_sum / st->arm_n);
            ace_ucb1_observe(&st->bandit[g], st->explore_arm, st->arm_n, st->arm_n < 2 ? 0 :
                             (st->arm_sumsq - st->arm_sum * st->arm_sum / st->arm_n) / (st->arm_n - 1));
            st->visit_pulls++;
            /* first visit: the knob's reward is taken to have one peak, so the
             * untried arms beyond a clearly worse one are not tried at all */
            best = ace_ucb1_best(&st->bandit[g]);
            if (!st->learned[g] && best != st->explore_arm &&
                ace_ucb1_mean(&st->bandit[g], st->explore_arm) < ace_ucb1_mean(&st->bandit[g], best) - c->prune_margin)
                ace_ucb1_skip_beyond(&st->bandit[g], st->explore_arm, st->explore_arm > best ? +1 : -1);
            st->arm_ticks = 0; st->arm_sum = 0; st->arm_sumsq = 0; st->arm_n = 0;
            if ((!st->learned[g] && ace_ucb1_all_tried(&st->bandit[g])) ||
                (st->learned[g] && st->visit_pulls >= c->revisit_pulls)) {
                int before = st->bandit[g].committed, was_learned = st->learned[g];
                st->learned[g] = 1;
                st->explore_g = -1;
                st->explore_arm = -1;
                /* a revisit that confirms the arm in force doubles the wait
                 * before the next one (exploring costs what bad arms cost) */
                if (ace_ucb1_commit(&st->bandit[g], st->tick) != before || !was_learned || !st->revisit_wait[g])
                    st->revisit_wait[g] = c->revisit_ticks;
                else if (st->revisit_wait[g] < c->revisit_ticks_max)
                    st->revisit_wait[g] *= 2;
                st->next_visit[g] = st->tick + st->revisit_wait[g];
                st->gap_left = c->gap_ticks;
            } else {
                st->explore_arm = ace_ucb1_select(&st->bandit[g]);
            }
        }
        return;
    }
    if (st->gap_left) { st->gap_left--; return; }
    /* groups a fast/slow rule points at and not explored yet go first, then
     * round robin over every relevant group */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ACE_G_N; i++) {
            int h = (st->rr_next + i) % ACE_G_N;
            if (ace_ucb1_cooling(&st->bandit[h], st->tick) || st->tick < st->next_visit[h]) continue;
            if (!group_relevant(m, st, h)) continue;
            if (pass == 0 && (st->learned[h] || !group_signal(m, st, h))) continue;
            st->explore_g = h;
            st->explore_arm = ace_ucb1_select(&st->bandit[h]);
            st->arm_ticks = 0; st->arm_sum = 0; st->arm_sumsq = 0; st->arm_n = 0; st->visit_pulls = 0;
            if (pass) st->rr_next = (h + 1) % ACE_G_N;
            return;
        }
}

/* LLC pressure with hysteresis; under pressure the diet bandit's arm is the
 * diet in force, when calm it is undone one candidate step per stable_ticks. */
static void diet_rule(const ace_metrics_t *m, ace_state_t *st)
{
    const ace_config_t *c = &st->cfg;
    double x = miss_value(m);
    double hi = m->llc_valid ? c->llc_miss_hi : c->llc_proxy_hi;
    double lo = m->llc_valid ? c->llc_miss_lo : c->llc_proxy_lo;
    if (x >= hi) { st->pressure_run++; st->calm_run = 0; }
    else if (x < lo) { st->calm_run++; st->pressure_run = 0; }
    else { st->pressure_run = 0; st->calm_run = 0; }       /* dead band: no change */

    if (!st->pressure && st->pressure_run >= c->trigger_ticks) st->pressure = 1;
    /* the proxy is a hint, not a measured miss rate: no diet until the bandit
     * shows one pays, and its search starts at the static value */
    int hint_only = !m->llc_valid && !st->learned[ACE_G_DIET] && st->explore_g != ACE_G_DIET;
    if (hint_only)
        st->bandit[ACE_G_DIET].committed = ace_cand_index(ace_cand_diet, 5, st->stat.diet_permille);
    if (st->pressure && st->calm_run >= c->stable_ticks) { st->pressure = 0; st->calm_run = 0; }

    if (st->stat.fixed_diet) { st->diet_permille = st->stat.diet_permille; return; }
    if (st->pressure) {
        st->diet_permille = hint_only ? st->stat.diet_permille : ace_cand_diet[arm_in_force(st, ACE_G_DIET)];
    } else if (st->diet_permille != st->stat.diet_permille && st->calm_run >= c->stable_ticks) {
        uint32_t up = cand_step(ace_cand_diet, 5, st->diet_permille, +1);
        if (st->diet_permille > st->stat.diet_permille || up > st->stat.diet_permille)
            up = st->stat.diet_permille;
        st->diet_permille = up;
        st->calm_run = 0;
    }
}

/* The TLS band with at least half of the tick's allocations, or -1. */
static int busiest_band(const ace_metrics_t *m)
{
    uint64_t band[ACE_CAP_BANDS] = { 0 }, tot = 0;
    int c, best = 0;
    for (c = 0; c < HAK_NCLASS; c++) { band[ace_cap_band(c)] += m->allocs[c]; tot += m->allocs[c]; }
    for (c = 1; c < ACE_CAP_BANDS; c++) if (band[c] > band[best]) best = c;
    return tot >= 1000 && band[best] * 2 >= tot ? best : -1;
}

/* A new phase: another size band has carried most allocations for
 * trigger_ticks busy ticks.  What the bandits learned belongs to the old
 * phase, so they start over, and the reward baselines settle again. */
static int phase_tick(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    int b = busiest_band(m);
    if (b < 0) return 0;
    if (st->phase_band < 0) st->phase_band = b;
    if (b == st->phase_band) { st->phase_run = 0; return 0; }
    if (++st->phase_run < st->cfg.trigger_ticks) return 0;
    out->phase_from = st->phase_band;
    out->phase_to = b;
    st->phase_band = b;
    st->phase_run = 0;
    init_bandits(st);
    st->busy_ticks = 0;
    st->base_init = 0;
    return 1;
}

/* Mutex wait up -> bundle width up, closed loop: a step is judged over the
 * ticks after the threads picked it up, and undone when lock wait did not
 * drop below lock_relief x what triggered it (waits that wider bundles do not
 * shorten, e.g. lock holders preempted on an oversubscribed machine); the rule
 * then rests for a cooldown.  Returns the bundle move's reason. */
static int lock_rule(const ace_metrics_t *m, ace_state_t *st)
{
    const ace_config_t *c = &st->cfg;
    if (st->lock_probe) {
        /* the probe's last trigger_ticks ticks are scored */
        if (--st->lock_probe < c->trigger_ticks) st->lock_after += m->lock_wait_frac;
        if (st->lock_probe == 0 && st->bundle_corr && st->lock_after / c->trigger_ticks >= c->lock_relief * st->lock_before) {
            st->bundle_corr--;
            st->lock_rest_until = st->tick + c->ucb_cooldown;
            return ACE_R_NORELIEF;
        }
        return ACE_R_BANDIT;
    }
    if (m->lock_wait_frac >= c->lock_hi && st->tick >= st->lock_rest_until && st->busy_ticks > c->settle_ticks)
        st->lock_run++;
    else st->lock_run = 0;
    if (st->lock_run >= c->trigger_ticks && st->bundle_corr < c->max_bundle_steps &&
        m->knobs.bundle_width < ace_cand_bundle[3]) {
        st->bundle_corr++;
        st->lock_run = 0;
        st->lock_trigger = st->tick;
        st->lock_before = m->lock_wait_frac;
        st->lock_after = 0;
        st->lock_probe = c->warmup_ticks + c->trigger_ticks;
        return ACE_R_LOCKS;
    }
    return ACE_R_BANDIT;
}

void ace_step(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    const hak_knobs_t *k = &m->knobs;
    uint8_t drain_reason[HAK_NCLASS];
    int bundle_reason, diet_reason = ACE_R_DIET;
    int cl;

    out->n = 0;
    memset(&out->stop, 0, sizeof *out - offsetof(ace_moves_t, stop));
    out->explore_group = -1;
    out->explore_arm = -1;
    out->budget_ns = c->scavenge_budget_ns;
    if (st->stopped) { out->stop = st->stopped; return; }
    st->tick = m->tick;

    /* ---- safety valves ---- */
    if (m->lat_n && m->p99_ns > c->max_p99_ns) out->stop = ACE_STOP_P99;
    else if (m->rss_bytes > c->max_rss_bytes) out->stop = ACE_STOP_RSS;
    else if (m->cpu_percent >= 0 && m->cpu_percent > c->max_cpu_percent) out->stop = ACE_STOP_CPU;
    if (out->stop) { st->stopped = out->stop; return; }

    if (m->dt_ns == 0) return;                 /* first tick: no deltas yet */

    /* ---- idle: no learning; scavenge until nothing is left ---- */
    {
        double idle_lim = c->idle_ops_per_s;
        if (st->base_init && 0.01 * st->base_ops > idle_lim) idle_lim = 0.01 * st->base_ops;
        out->idle = m->ops_per_s < idle_lim;
    }
    if (out->idle) {
        uint64_t held = m->bytes_held;   /* pages not given back */
        st->idle_run++;
        if (st->idle_run == c->trigger_ticks) st->idle_scavenging = 1;
        if (st->idle_scavenging && m->last_scavenge_ran && m->last_scavenge_pages == 0 &&
            !m->last_scavenge_hit_deadline)
            st->idle_scavenging = 0;           /* a whole pass found nothing: done until busy again */
        if (st->idle_scavenging && held > m->bytes_live)
            out->scavenge = ACE_SCAV_IDLE;
    } else {
        st->idle_run = 0;
        st->idle_scavenging = 0;
        out->phase_change = phase_tick(m, st, out);
        compute_reward(m, st, out);
        if (++st->busy_ticks > c->settle_ticks)
            bandit_tick(m, st, out->reward);
    }
    out->explore_group = st->explore_g;
    out->explore_arm = st->explore_arm;

    /* ---- fast rules ---- */
    diet_rule(m, st);
    out->pressure = st->pressure;

    for (cl = 0; cl < HAK_NCLASS; cl++) drain_reason[cl] = ACE_R_BANDIT;
    for (cl = 0; cl < HAK_TINY_CLASSES; cl++) {
        uint64_t lim = k->drain_threshold[cl] / (c->backlog_div ? c->backlog_div : 1);
        if (lim < c->backlog_min) lim = c->backlog_min;
        if (m->backlog[cl] >= lim && st->busy_ticks > c->settle_ticks) st->backlog_run[cl]++;
        else st->backlog_run[cl] = 0;
        if (st->backlog_run[cl] >= c->trigger_ticks && st->drain_corr[cl] < c->max_drain_steps &&
            k->drain_threshold[cl] > ace_cand_drain[0]) {
            st->drain_corr[cl]++;
            st->backlog_run[cl] = 0;
            st->drain_trigger[cl] = st->tick;
            drain_reason[cl] = ACE_R_BACKLOG;
        }
    }
    bundle_reason = lock_rule(m, st);

    /* ---- slow rules ---- */
    if (m->slow) {
        uint64_t held = m->bytes_held;   /* pages not given back */
        /* stable since the last slow tick: undo corrections one step (hysteresis:
         * they went on after trigger_ticks high ticks, they come off only after a
         * whole slow interval without a trigger and with the metric calm) */
        for (cl = 0; cl < HAK_TINY_CLASSES; cl++) {
            uint64_t calm = k->drain_threshold[cl] / 16;
            if (calm < c->backlog_min / 2) calm = c->backlog_min / 2;
            if (st->drain_corr[cl] && st->drain_trigger[cl] <= st->last_slow_tick && m->backlog[cl] < calm) {
                st->drain_corr[cl]--;
                drain_reason[cl] = ACE_R_RESTORE;
            }
        }
        if (st->bundle_corr && st->lock_trigger <= st->last_slow_tick && m->lock_wait_frac < c->lock_lo) {
            st->bundle_corr--;
            bundle_reason = ACE_R_RESTORE;
        }
        /* fragmentation up -> partial release of N pages per span */
        if (m->frag >= c->frag_hi && m->partial_spans > 0 && held > m->bytes_live + c->frag_min_bytes)
            out->partial_release_pages = k->partial_release_pages ? k->partial_release_pages : 1;
        /* RSS up -> budgeted scavenge */
        if (st->last_slow_rss && !out->scavenge &&
            (double)m->rss_bytes >= c->rss_up_ratio * (double)st->last_slow_rss &&
            m->rss_bytes >= st->last_slow_rss + c->rss_up_min_bytes)
            out->scavenge = ACE_SCAV_RSS_UP;
        st->last_slow_rss = m->rss_bytes;
        st->last_slow_tick = st->tick;
    }

    /* ---- targets -> moves ---- */
    for (cl = 0; cl < HAK_NCLASS; cl++) {
        if (!st->stat.fixed_tls_cap[cl]) {
            int g = ACE_G_CAP0 + ace_cap_band(cl);
            uint32_t t = bandit_value(st, g, st->stat.tls_cap[cl]);
            push_move(out, ACE_K_TLS_CAP, cl, k->tls_cap[cl], t,
                      st->explore_g == g ? ACE_R_EXPLORE : ACE_R_BANDIT);
        }
        if (cl < HAK_TINY_CLASSES && !st->stat.fixed_drain[cl]) {
            int g = ACE_G_DRAIN0 + ace_drain_band(cl);
            uint32_t base = bandit_value(st, g, st->stat.drain_threshold[cl]);
            uint32_t t = cand_step(ace_cand_drain, 5, base, -(int)st->drain_corr[cl]);
            if (!st->drain_corr[cl]) t = base;
            int r = drain_reason[cl];
            if (r == ACE_R_BANDIT && st->explore_g == g) r = ACE_R_EXPLORE;
            push_move(out, ACE_K_DRAIN, cl, k->drain_threshold[cl], t, r);
        }
    }
    if (!st->stat.fixed_bundle) {
        uint32_t base = bandit_value(st, ACE_G_BUNDLE, st->stat.bundle_width);
        uint32_t t = st->bundle_corr ? cand_step(ace_cand_bundle, 4, base, st->bundle_corr) : base;
        if (bundle_reason == ACE_R_BANDIT && st->explore_g == ACE_G_BUNDLE) bundle_reason = ACE_R_EXPLORE;
        push_move(out, ACE_K_BUNDLE, -1, k->bundle_width, t, bundle_reason);
    }
    if (!st->stat.fixed_partial) {
        uint32_t t = bandit_value(st, ACE_G_PARTIAL, st->stat.partial_release_pages);
        push_move(out, ACE_K_PARTIAL, -1, k->partial_release_pages, t,
                  st->explore_g == ACE_G_PARTIAL ? ACE_R_EXPLORE : ACE_R_BANDIT);
    }
    if (!st->stat.fixed_diet) {
        if (!st->pressure) diet_reason = ACE_R_RESTORE;
        else if (st->explore_g == ACE_G_DIET) diet_reason = ACE_R_EXPLORE;
        push_move(out, ACE_K_DIET, -1, k->diet_permille, st->diet_permille, diet_reason);
    }
}
