/* ACE decide step: fast loop, slow loop, the bandit's duels, safety valves.
 * Pure: reads only its arguments.  See hakmem_ace_controller.h, docs/ACE.md. */
#include "hakmem_ace_controller.h"
#include "hakmem_options.h"
#include <stddef.h>
#include <string.h>

const uint32_t ace_cand_tls_cap[5] = { 4, 8, 16, 32, 64 };
const uint32_t ace_cand_drain[5]   = { 32, 64, 128, 256, 512 };
const uint32_t ace_cand_diet[5]    = { 500, 660, 750, 900, 1000 };
const uint32_t ace_cand_bundle[4]  = { 16, 32, 64, 128 };

static const uint32_t *group_cand(int g, int *n)
{
    *n = 5;
    return g < ACE_G_DIET ? ace_cand_tls_cap : ace_cand_diet;
}

uint32_t ace_group_value(int g, int a)
{
    int n;
    const uint32_t *cand = group_cand(g, &n);
    return cand[a < 0 ? 0 : a >= n ? n - 1 : a];
}

const char *ace_group_name(int g)
{
    static const char *names[ACE_G_N] = {
        "tls_cap[16-128B]", "tls_cap[144B-1K]", "tls_cap[1K-16K]", "tls_cap[16K-256K]", "diet"
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
    c->idle_budget_ns = 17500000ull;
    ace_mem_cfg_default(&c->mem);
    c->slice_ns = (uint64_t)(HAK_DEF_ACE_SLICE_MS * 1e6);
    ace_duel_cfg_default(&c->duel);
    c->settle_ticks = 5;
    c->revisit_ticks = 20;
    c->revisit_ticks_max = 320;
    c->gap_ticks = 2;
    c->rest_ticks = 20;
    c->ucb_c = 0.02;          /* values are a few hundredths (throughput fractions) */
    c->ucb_gamma = 0.95;
    c->w_tput = 1.0; c->w_miss = 0.2; c->w_lock = 0.2; c->w_frag = 0.1; c->w_backlog = 0.1;
}

static uint32_t static_group_value(const hak_knobs_t *k, int g)
{
    if (g < ACE_G_DIET)
        for (int c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g - ACE_G_CAP0) return k->tls_cap[c];
    return k->diet_permille;
}

static void init_bandits(ace_state_t *st)
{
    for (int g = 0; g < ACE_G_N; g++) {
        int n;
        const uint32_t *cand = group_cand(g, &n);
        ace_ucb1_init(&st->bandit[g], (uint32_t)n, ace_cand_index(cand, n, static_group_value(&st->stat, g)),
                      st->cfg.ucb_c, st->cfg.ucb_gamma);
        st->learned[g] = 0;
        st->revisit_wait[g] = 0;
        st->next_visit[g] = 0;
    }
    st->explore_g = -1;
    st->gap_left = 0;
    /* the round robin starts at the diet: one knob that scales every busy
     * class's cap, so one visit covers them all (a choice: no workload here
     * confirms a diet win since the harness fix: docs/history/knob-sweeps.md) */
    st->rr_next = ACE_G_DIET;
}

void ace_state_init(ace_state_t *st, const ace_config_t *cfg, const hak_knobs_t *stat)
{
    memset(st, 0, sizeof *st);
    st->cfg = *cfg;
    st->stat = *stat;
    init_bandits(st);
    st->diet_permille = stat->diet_permille;
    st->phase_band = -1;
    ace_mem_init(&st->mem, stat);
}

/* ------------------------------------------------------------ helpers */
static int group_has_free_knob(const ace_state_t *st, int g)
{
    const hak_knobs_t *k = &st->stat;
    if (g < ACE_G_DIET) {
        for (int c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g && !k->fixed_tls_cap[c]) return 1;
        return 0;
    }
    return !k->fixed_diet && !(st->cfg.w_miss <= 0);
}

/* Is exploring group g worth it now?  Only where its knob sees traffic, and
 * for a TLS band only where its magazines go to their slow paths at least
 * once per 1000 allocations (refills + flushes): a band that never misses
 * has no throughput for a larger cap to find. */
static int group_relevant(const ace_metrics_t *m, const ace_state_t *st, int g)
{
    uint64_t tot = 0, band = 0, slow = 0;
    int c;
    if (!group_has_free_knob(st, g)) return 0;
    for (c = 0; c < HAK_NCLASS; c++) tot += m->allocs[c];
    if (tot < 1000) return 0;
    if (g < ACE_G_DIET) {
        for (c = 0; c < HAK_NCLASS; c++) if (ace_cap_band(c) == g) { band += m->allocs[c]; slow += m->slow_ops[c]; }
        return band * 20 >= tot && slow * 1000 >= band;   /* >= 5 % of allocations, >= 1 slow path per 1000 */
    }
    /* the diet scales the cap of every class allocated from: relevant
     * wherever anything is allocated; LLC pressure puts it first */
    return 1;
}

/* Does a rule's metric point at group g?  LLC pressure -> diet. */
static int group_signal(const ace_state_t *st, int g) { return g == ACE_G_DIET && st->pressure; }

static int arm_in_force(const ace_state_t *st, int g)
{
    return st->explore_g == g ? ace_duel_arm(&st->duel) : st->bandit[g].committed;
}

/* The value the bandit wants for group g (the static value until learned). */
static uint32_t bandit_value(const ace_state_t *st, int g, uint32_t static_v)
{
    if (!st->learned[g] && st->explore_g != g) return static_v;
    return ace_group_value(g, arm_in_force(st, g));
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
static double frag_excess(const ace_metrics_t *m) { return m->frag > 1 ? m->frag - 1 : 0; }

/* ------------------------------------------------------------ reward */
/* reward = throughput - (misses + locks + frag + backlog), each term in
 * [0, 1] against a running baseline (the baseline reads 0.5); the floors keep
 * a negligible metric at 0 instead of amplifying its noise. */
static void compute_reward(const ace_metrics_t *m, const ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    double miss_floor = m->llc_valid ? 0.02 : 0.25;
    out->t_term = clamp01(0.5 * m->ops_per_s / (st->base_ops > 1 ? st->base_ops : 1));
    out->m_term = clamp01(0.5 * miss_value(m) / (st->base_miss > miss_floor ? st->base_miss : miss_floor));
    out->l_term = clamp01(0.5 * m->lock_wait_frac / (st->base_lock > 0.005 ? st->base_lock : 0.005));
    out->f_term = clamp01(0.5 * frag_excess(m) / (st->base_frag > 0.1 ? st->base_frag : 0.1));
    /* remote backlog: blocks freed by other threads and not yet collected */
    out->b_term = clamp01(0.5 * (double)m->backlog_total / (st->base_backlog > 64 ? st->base_backlog : 64));
    out->reward = c->w_tput * out->t_term - (c->w_miss * out->m_term + c->w_lock * out->l_term +
                                             c->w_frag * out->f_term + c->w_backlog * out->b_term);
    out->reward_valid = 1;
}

/* Baselines move on fast ticks only, after the tick's reward: plain means
 * while the program settles (its first ticks start threads and fault memory
 * in), then an EWMA over ~20 ticks.  A fresh baseline is the tick itself. */
static void update_baselines(const ace_metrics_t *m, ace_state_t *st, int seed)
{
    double a = seed ? 1.0 : st->busy_ticks < 20 ? 1.0 / (st->busy_ticks + 1) : 0.05;
    st->base_ops  = (1 - a) * st->base_ops  + a * m->ops_per_s;
    st->base_bytes = (1 - a) * st->base_bytes + a * m->alloc_bytes_per_s;
    st->base_miss = (1 - a) * st->base_miss + a * miss_value(m);
    st->base_lock = (1 - a) * st->base_lock + a * m->lock_wait_frac;
    st->base_frag = (1 - a) * st->base_frag + a * frag_excess(m);
    st->base_backlog = (1 - a) * st->base_backlog + a * (double)m->backlog_total;
    st->base_init = 1;
}

/* ------------------------------------------------------------ the bandit */
/* A visit to group g is a hill climb from the arm in force: each neighbour is
 * a challenger in a duel (paired ABBA slices, hakmem_ace_duel.h); a winner
 * becomes the arm in force and the climb goes on in its direction; a
 * direction ends at the first challenger with no gain (the knob's reward is
 * taken to have one peak).  UCB1 picks which neighbour goes first. */
static int next_challenger(ace_state_t *st)
{
    ace_ucb1_t *b = &st->bandit[st->explore_g];
    uint32_t mask = 0;
    if (!(st->visit_dirs & 1) && b->committed > 0) mask |= 1u << (b->committed - 1);
    if (!(st->visit_dirs & 2) && b->committed + 1 < (int)b->n_arms) mask |= 1u << (b->committed + 1);
    return ace_ucb1_select(b, mask);
}

static void end_visit(ace_state_t *st)
{
    const ace_config_t *c = &st->cfg;
    int g = st->explore_g;
    /* a visit that kept the arm in force doubles the wait before the next
     * (exploring costs what bad arms cost); a switch resets it */
    if (st->visit_won || !st->learned[g] || !st->revisit_wait[g]) st->revisit_wait[g] = c->revisit_ticks;
    else if (st->revisit_wait[g] < c->revisit_ticks_max) st->revisit_wait[g] *= 2;
    st->learned[g] = 1;
    st->next_visit[g] = st->tick + st->revisit_wait[g];
    st->explore_g = -1;
    st->gap_left = c->gap_ticks;
}

static void start_duel_or_end(ace_state_t *st)
{
    int chal = next_challenger(st);
    if (chal < 0) { end_visit(st); return; }
    ace_duel_start(&st->duel, st->bandit[st->explore_g].committed, chal);
}

static void begin_visit(ace_state_t *st, int g)
{
    st->explore_g = g;
    st->visit_dirs = 0;
    st->visit_won = 0;
    start_duel_or_end(st);
}

/* A duel ended: the challenger's value is the champion's plus the measured
 * difference; a winner is committed at once. */
static void duel_done(ace_state_t *st, int verdict, ace_moves_t *out)
{
    ace_ucb1_t *b = &st->bandit[st->explore_g];
    const ace_duel_t *d = &st->duel;
    int dir = d->chal > d->champ ? 2 : 1;
    double champ_v = ace_ucb1_mean(b, d->champ);
    ace_ucb1_update(b, d->champ, champ_v);
    ace_ucb1_update(b, d->chal, champ_v + ace_duel_mean(d));
    out->duel_verdict = verdict;
    out->duel_group = st->explore_g;
    out->duel_champ = d->champ;
    out->duel_chal = d->chal;
    if (verdict == ACE_DUEL_WIN) {
        b->committed = d->chal;
        st->visit_won = 1;
        st->visit_dirs |= (uint8_t)(3 - dir);     /* the way back is where it came from */
    } else {
        st->visit_dirs |= (uint8_t)dir;
    }
    start_duel_or_end(st);
}

/* The duel's measurement is void (a pause, the traffic gone); a win already
 * measured in this visit is kept. */
static void abandon_visit(ace_state_t *st)
{
    if (st->visit_won) { end_visit(st); return; }
    st->explore_g = -1;
    st->gap_left = st->cfg.gap_ticks;
}

/* Score the wake just ended as a slice of the running duel. */
static void duel_slice(ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    int v = ace_duel_slice(&st->duel, &c->duel, out->reward, 0.5 * c->w_tput);
    out->duel_blocks = st->duel.n;
    out->duel_mean = ace_duel_mean(&st->duel);
    out->duel_se = ace_duel_radius(&st->duel, &c->duel);
    if (v != ACE_DUEL_RUNNING) duel_done(st, v, out);
}

/* Fast tick: abandon a visit whose traffic went away, or start the next one:
 * groups a rule's metric points at and not explored yet first, then round
 * robin over every relevant group. */
static void schedule_tick(const ace_metrics_t *m, ace_state_t *st)
{
    if (st->explore_g >= 0) {
        if (!group_relevant(m, st, st->explore_g)) abandon_visit(st);
        return;
    }
    if (st->gap_left) { st->gap_left--; return; }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ACE_G_N; i++) {
            int h = (st->rr_next + i) % ACE_G_N;
            if (st->tick < st->next_visit[h] || !group_relevant(m, st, h)) continue;
            if (pass == 0 && (st->learned[h] || !group_signal(st, h))) continue;
            if (pass) st->rr_next = (h + 1) % ACE_G_N;
            begin_visit(st, h);
            return;
        }
}

/* ------------------------------------------------------------ fast rules */
/* LLC pressure with hysteresis.  Measured misses under pressure: the seed's
 * diet (0.75) until the diet group has been explored, undone one candidate per
 * stable_ticks calm ticks when the pressure ends.  Otherwise the diet is the
 * bandit's (the proxy is a hint, not a miss rate: no diet until a duel shows
 * one pays). */
static void diet_rule(const ace_metrics_t *m, ace_state_t *st)
{
    const ace_config_t *c = &st->cfg;
    double x = miss_value(m);
    double hi = m->llc_valid ? c->llc_miss_hi : c->llc_proxy_hi;
    double lo = m->llc_valid ? c->llc_miss_lo : c->llc_proxy_lo;
    uint32_t want = bandit_value(st, ACE_G_DIET, st->stat.diet_permille), target = want;
    if (x >= hi) { st->pressure_run++; st->calm_run = 0; }
    else if (x < lo) { st->calm_run++; st->pressure_run = 0; }
    else { st->pressure_run = 0; st->calm_run = 0; }       /* dead band: no change */
    if (!st->pressure && st->pressure_run >= c->trigger_ticks) st->pressure = 1;
    if (st->pressure && st->calm_run >= c->stable_ticks) { st->pressure = 0; st->calm_run = 0; }

    if (st->stat.fixed_diet) { st->diet_permille = st->stat.diet_permille; return; }
    if (st->pressure && m->llc_valid && !st->learned[ACE_G_DIET] && st->explore_g != ACE_G_DIET) {
        st->diet_by_pressure = 1;
        target = 750;
    } else if (st->diet_by_pressure && target > st->diet_permille) {
        if (st->calm_run < c->stable_ticks) return;
        uint32_t up = cand_step(ace_cand_diet, 5, st->diet_permille, +1);
        target = up < target ? up : target;
        st->calm_run = 0;
    }
    if (target >= want) st->diet_by_pressure = 0;
    st->diet_permille = target;
}

/* The TLS band with at least half of the tick's allocations, or -1.  The
 * band in force (cur) stays unless the other carries twice its allocations:
 * sizes spread evenly over two bands (huge_ws's log-uniform 16 B-1 KiB is
 * 50/50 around 128 B) made the lead flip every few ticks and the bandits start
 * over 9 times in a 9 s run. */
static int busiest_band(const ace_metrics_t *m, int cur)
{
    uint64_t band[ACE_CAP_BANDS] = { 0 }, tot = 0;
    int c, best = 0;
    for (c = 0; c < HAK_NCLASS; c++) { band[ace_cap_band(c)] += m->allocs[c]; tot += m->allocs[c]; }
    for (c = 1; c < ACE_CAP_BANDS; c++) if (band[c] > band[best]) best = c;
    if (tot < 1000 || band[best] * 2 < tot) return -1;
    return cur >= 0 && band[best] < 2 * band[cur] ? cur : best;
}

/* A new phase: another size band has carried most allocations (and twice
 * the old band's) for trigger_ticks busy ticks.  What the bandits learned
 * belongs to the old phase, so they start over, and the baselines settle again. */
static int phase_tick(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    int b = busiest_band(m, st->phase_band);
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
 * then rests.  Returns the bundle move's reason. */
static int lock_rule(const ace_metrics_t *m, ace_state_t *st)
{
    const ace_config_t *c = &st->cfg;
    if (st->lock_probe) {
        /* the probe's last trigger_ticks ticks are scored */
        if (--st->lock_probe < c->trigger_ticks) st->lock_after += m->lock_wait_frac;
        if (st->lock_probe == 0 && st->bundle_corr && st->lock_after / c->trigger_ticks >= c->lock_relief * st->lock_before) {
            st->bundle_corr--;
            st->lock_rest_until = st->tick + c->rest_ticks;
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
        st->lock_probe = 1 + c->trigger_ticks;   /* one tick for the threads to pick it up */
        return ACE_R_LOCKS;
    }
    return ACE_R_BANDIT;
}

/* Backlog up -> drain threshold down one candidate (Tiny classes). */
static void backlog_rule(const ace_metrics_t *m, ace_state_t *st, uint8_t *reason)
{
    const ace_config_t *c = &st->cfg;
    for (int cl = 0; cl < HAK_TINY_CLASSES; cl++) {
        uint64_t lim = m->knobs.drain_threshold[cl] / (c->backlog_div ? c->backlog_div : 1);
        if (lim < c->backlog_min) lim = c->backlog_min;
        if (m->backlog[cl] >= lim && st->busy_ticks > c->settle_ticks) st->backlog_run[cl]++;
        else st->backlog_run[cl] = 0;
        if (st->backlog_run[cl] >= c->trigger_ticks && st->drain_corr[cl] < c->max_drain_steps &&
            m->knobs.drain_threshold[cl] > ace_cand_drain[0]) {
            st->drain_corr[cl]++;
            st->backlog_run[cl] = 0;
            st->drain_trigger[cl] = st->tick;
            reason[cl] = ACE_R_BACKLOG;
        }
    }
}

/* ------------------------------------------------------------ slow rules */
/* Stable since the last slow tick: corrections come off one step
 * (hysteresis: on after trigger_ticks high ticks, off only after a whole slow
 * interval without a trigger and with the metric calm).  Fragmentation up ->
 * partial release of N pages per span; RSS up -> budgeted scavenge. */
static void slow_rules(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out, uint8_t *drain_reason,
                       int *bundle_reason)
{
    const ace_config_t *c = &st->cfg;
    const hak_knobs_t *k = &m->knobs;
    for (int cl = 0; cl < HAK_TINY_CLASSES; cl++) {
        uint64_t calm = k->drain_threshold[cl] / 16;
        if (calm < c->backlog_min / 2) calm = c->backlog_min / 2;
        if (st->drain_corr[cl] && st->drain_trigger[cl] <= st->last_slow_tick && m->backlog[cl] < calm) {
            st->drain_corr[cl]--;
            drain_reason[cl] = ACE_R_RESTORE;
        }
    }
    if (st->bundle_corr && st->lock_trigger <= st->last_slow_tick && m->lock_wait_frac < c->lock_lo) {
        st->bundle_corr--;
        *bundle_reason = ACE_R_RESTORE;
    }
    /* keep pages (partial release 0): the re-fault rule chose to hold them */
    if (m->frag >= c->frag_hi && m->partial_spans > 0 && m->bytes_held > m->bytes_live + c->frag_min_bytes)
        out->partial_release_pages = k->partial_release_pages;
    if (st->last_slow_rss && !out->scavenge &&
        (double)m->rss_bytes >= c->rss_up_ratio * (double)st->last_slow_rss &&
        m->rss_bytes >= st->last_slow_rss + c->rss_up_min_bytes)
        out->scavenge = ACE_SCAV_RSS_UP;
    st->last_slow_rss = m->rss_bytes;
    st->last_slow_tick = st->tick;
}

/* ------------------------------------------------------------ the step */
static int valves(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    if (m->lat_n && m->p99_ns > c->max_p99_ns) out->stop = ACE_STOP_P99;
    else if (m->rss_bytes > c->max_rss_bytes) out->stop = ACE_STOP_RSS;
    else if (m->cpu_percent >= 0 && m->cpu_percent > c->max_cpu_percent) out->stop = ACE_STOP_CPU;
    if (out->stop) st->stopped = out->stop;
    return out->stop;
}

/* Idle: fewer operations than max(idle_ops_per_s, 1 % of the busy
 * baseline), or a trickle: under 10 % of the baseline's operations handing out
 * under 1 % of its bytes.  A program of Large buffers makes few calls while
 * busy (phased_large: 30-500 k/s), and a few hundred small blocks every 50 ms
 * (8 k/s) are not busy next to it; a busy phase of small blocks after one of
 * Large buffers still makes 10 % of the calls. */
static int is_idle(const ace_metrics_t *m, const ace_state_t *st)
{
    double lim = st->cfg.idle_ops_per_s;
    if (st->base_init && 0.01 * st->base_ops > lim) lim = 0.01 * st->base_ops;
    if (m->ops_per_s < lim) return 1;
    return st->base_init && m->ops_per_s < 0.1 * st->base_ops && m->alloc_bytes_per_s < 0.01 * st->base_bytes;
}

/* Idle fast tick: no learning; once idle for the hold time (idle_due) a
 * budgeted scavenge every tick while the heap holds more than its live bytes
 * or the Large caches hold anything, until a whole pass (not cut short by its
 * deadline) finds nothing. */
static void idle_tick(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out, int due)
{
    if (due && !st->idle_scavenging && !st->idle_done) st->idle_scavenging = 1;
    if (st->idle_scavenging && m->last_scavenge_ran && m->last_scavenge_pages == 0 &&
        !m->last_scavenge_hit_deadline) {
        st->idle_scavenging = 0;
        st->idle_done = 1;
    }
    if (st->idle_scavenging) {
        out->scavenge = ACE_SCAV_IDLE;
        out->budget_ns = st->cfg.idle_budget_ns;
    }
}

/* Busy wake: the reward, the duel's slice, and on fast ticks the baselines,
 * the phase and the schedule. */
static void busy_wake(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    const ace_config_t *c = &st->cfg;
    if (!m->slice) {
        st->idle_done = 0;
        st->idle_scavenging = 0;
        out->phase_change = phase_tick(m, st, out);
        if (!st->base_init) update_baselines(m, st, 1);
    }
    compute_reward(m, st, out);
    if (!m->slice) update_baselines(m, st, 0);
    if (st->explore_g >= 0) duel_slice(st, out);
    if (!m->slice && ++st->busy_ticks > c->settle_ticks) schedule_tick(m, st);
}

/* enum ace_mem_why -> enum ace_reason; rule: the rule's own reason */
static int mem_reason(int why, int rule)
{
    return why == ACE_MEM_RESTORE ? ACE_R_RESTORE : why == ACE_MEM_TARGET ? ACE_R_TARGET : rule;
}

/* The memory rules' knobs (hakmem_ace_memory.h): the release step, the
 * Large bound and the hold time.  The hold time moves only when the computed
 * one is 20 % away (its inputs are measured each tick). */
static void push_memory_targets(const hak_knobs_t *k, const ace_state_t *st, ace_moves_t *out, const ace_mem_out_t *mo)
{
    const hak_knobs_t *s = &st->stat;
    int lr = mem_reason(mo->level_reason, ACE_R_REFAULT), br = mem_reason(mo->bound_reason, ACE_R_GHOST);
    uint32_t hold = ace_mem_hold_ms(&st->mem);
    if (!s->fixed_partial) push_move(out, ACE_K_PARTIAL, -1, k->partial_release_pages, ace_mem_partial(&st->mem, s), lr);
    if (!s->fixed_sparse) push_move(out, ACE_K_SPARSE, -1, k->sparse_div, ace_mem_sparse_div(&st->mem, s), lr);
    if (!s->fixed_shrink) push_move(out, ACE_K_SHRINK, -1, k->shrink_min, ace_mem_shrink_min(&st->mem, s), lr);
    if (!s->fixed_large_cache) push_move(out, ACE_K_LARGE_MB, -1, k->large_cache_mb, ace_mem_large_mb(&st->mem, s), br);
    if (!s->fixed_hold && (uint64_t)(hold > k->hold_ms ? hold - k->hold_ms : k->hold_ms - hold) * 5 > k->hold_ms)
        push_move(out, ACE_K_HOLD, -1, k->hold_ms, hold, st->mem.above_target ? ACE_R_TARGET : ACE_R_HOLD);
}

/* Each knob's target: the bandit's value for its group (the static value
 * until explored) with the rules' bounded corrections. */
static void push_targets(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out,
                         const uint8_t *drain_reason, int bundle_reason, const ace_mem_out_t *mo)
{
    const hak_knobs_t *k = &m->knobs;
    for (int cl = 0; cl < HAK_NCLASS; cl++) {
        if (!st->stat.fixed_tls_cap[cl]) {
            int g = ACE_G_CAP0 + ace_cap_band(cl);
            push_move(out, ACE_K_TLS_CAP, cl, k->tls_cap[cl], bandit_value(st, g, st->stat.tls_cap[cl]),
                      st->explore_g == g ? ACE_R_EXPLORE : ACE_R_BANDIT);
        }
        if (cl < HAK_TINY_CLASSES && !st->stat.fixed_drain[cl]) {
            uint32_t t = st->stat.drain_threshold[cl];
            if (st->drain_corr[cl]) t = cand_step(ace_cand_drain, 5, t, -(int)st->drain_corr[cl]);
            push_move(out, ACE_K_DRAIN, cl, k->drain_threshold[cl], t, drain_reason[cl]);
        }
    }
    if (!st->stat.fixed_bundle) {
        uint32_t t = st->stat.bundle_width;
        if (st->bundle_corr) t = cand_step(ace_cand_bundle, 4, t, st->bundle_corr);
        push_move(out, ACE_K_BUNDLE, -1, k->bundle_width, t, bundle_reason);
    }
    push_memory_targets(k, st, out, mo);
    if (!st->stat.fixed_diet)
        push_move(out, ACE_K_DIET, -1, k->diet_permille, st->diet_permille,
                  st->explore_g == ACE_G_DIET ? ACE_R_EXPLORE : st->pressure ? ACE_R_DIET : ACE_R_RESTORE);
}

static void reset_out(const ace_state_t *st, ace_moves_t *out)
{
    out->n = 0;
    memset(&out->stop, 0, sizeof *out - offsetof(ace_moves_t, stop));
    out->explore_group = -1;
    out->explore_arm = -1;
    out->duel_group = -1;
    out->budget_ns = st->cfg.scavenge_budget_ns;
}

/* The books: J over the slow interval just ended. */
static void close_books(ace_state_t *st, ace_moves_t *out)
{
    out->j_cpu_s = st->mem.slow_cpu_s;
    out->j_mib_s = st->mem.slow_mib_s;
    out->j = ace_mem_j(&st->cfg.mem, out->j_cpu_s, out->j_mib_s);
    st->mem.slow_cpu_s = st->mem.slow_mib_s = 0;
}

void ace_step(const ace_metrics_t *m, ace_state_t *st, ace_moves_t *out)
{
    uint8_t drain_reason[HAK_NCLASS];
    int bundle_reason = ACE_R_BANDIT, idle;
    ace_mem_out_t mo = { ACE_MEM_NONE, ACE_MEM_NONE, 0, 0 };

    reset_out(st, out);
    if (st->stopped) { out->stop = st->stopped; return; }
    if (valves(m, st, out)) return;
    if (m->dt_ns == 0) return;                 /* first tick: no deltas yet */
    if (!m->slice) st->tick = m->tick;

    idle = out->idle = is_idle(m, st);
    if (!m->slice) {
        ace_mem_tick(m, &st->cfg.mem, &st->mem, idle, st->cfg.trigger_ticks, st->last_slow_tick, st->tick, &mo);
        if (mo.scav_target) out->scavenge = ACE_SCAV_TARGET;
    }
    if (idle && st->explore_g >= 0) abandon_visit(st);   /* a pause is not a knob's effect */
    if (idle && !m->slice) idle_tick(m, st, out, mo.idle_due);
    else if (!idle) busy_wake(m, st, out);

    memset(drain_reason, ACE_R_BANDIT, sizeof drain_reason);
    if (!m->slice) {
        diet_rule(m, st);
        backlog_rule(m, st, drain_reason);
        bundle_reason = lock_rule(m, st);
        if (m->slow) slow_rules(m, st, out, drain_reason, &bundle_reason);
        if (m->slow) close_books(st, out);
    } else if (st->explore_g == ACE_G_DIET) {
        st->diet_permille = bandit_value(st, ACE_G_DIET, st->stat.diet_permille);   /* the duel's arm */
    }
    out->pressure = st->pressure;
    out->explore_group = st->explore_g;
    out->explore_arm = st->explore_g >= 0 ? ace_duel_arm(&st->duel) : -1;
    if (st->explore_g >= 0) out->slice_ns = st->cfg.slice_ns;
    push_targets(m, st, out, drain_reason, bundle_reason, &mo);
}
