/* ACE unit tests: UCB1, the fast/slow rules, the valves, and the bandit
 * schedule, all through the pure step function with synthetic metrics.
 * Built against stub_core.c (no allocator needed).  Prints PASS/FAIL lines. */
#include <stdio.h>
#include <string.h>
#include <math.h>
#include "hakmem_ace_controller.h"
#include "hakmem_ace_ucb1.h"
#include "hakmem_ace_metrics.h"
#include "hakmem_ace_scavenge.h"
#include "stub_core.h"

static int fails_in_test;
#define CHECK(c) do { if (!(c)) { fails_in_test++; printf("    check failed: %s (line %d)\n", #c, __LINE__); } } while (0)

static int passed, failed;
static void report(const char *name)
{
    if (fails_in_test) { failed++; printf("FAIL %s\n", name); }
    else { passed++; printf("PASS %s\n", name); }
    fails_in_test = 0;
}

static uint64_t rng = 88172645463325252ull;
static double urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (double)(rng >> 11) / 9007199254740992.0; }

/* normal deviate (Box-Muller) */
static double nrand(void)
{
    double u = urand(), v = urand();
    return sqrt(-2 * log(u > 1e-12 ? u : 1e-12)) * cos(6.283185307179586 * v);
}

/* ------------------------------------------------------------------ UCB1 */
static void test_ucb1_converges(void)
{
    const double mean[5] = { 0.30, 0.45, 0.70, 0.50, 0.20 };
    ace_ucb1_t b;
    int i, pulls2 = 0;
    ace_ucb1_init(&b, 5, 3, 0.2, 1.0);
    for (i = 0; i < 400; i++) {
        int a = ace_ucb1_select(&b, 0x1f);
        pulls2 += a == 2;
        ace_ucb1_update(&b, a, mean[a] + (urand() - 0.5) * 0.2);
    }
    CHECK(pulls2 > 300);
    report("ucb1: converges to the best arm on noisy rewards");
}

/* Two neighbours; the better one changes after 200 results.  Values and
 * weight as ACE's (hundredths of throughput, c and gamma from
 * ace_config_default): with the discount the new best is pulled most of the
 * last 100 times; undiscounted UCB1 trusts the old best's long record. */
static int pulls_after_change(double gamma)
{
    const double before[2] = { 0.00, 0.05 }, after[2] = { 0.03, 0.00 };
    ace_config_t cfg;
    ace_ucb1_t b;
    int i, pulls0 = 0;
    ace_config_default(&cfg);
    ace_ucb1_init(&b, 2, 1, cfg.ucb_c, gamma);
    for (i = 0; i < 300; i++) {
        int a = ace_ucb1_select(&b, 0x3);
        pulls0 += i >= 200 && a == 0;
        ace_ucb1_update(&b, a, (i < 200 ? before[a] : after[a]) + (urand() - 0.5) * 0.02);
    }
    return pulls0;
}

static void test_ucb1_discount(void)
{
    ace_config_t cfg;
    ace_config_default(&cfg);
    int disc = 0, plain = 0;
    for (int r = 0; r < 10; r++) {
        disc += pulls_after_change(cfg.ucb_gamma);
        plain += pulls_after_change(1.0);
    }
    fprintf(stderr, "  new best arm pulled %d / 1000 (discount %.2f), %d / 1000 (plain)\n", disc, cfg.ucb_gamma, plain);
    CHECK(disc >= 650);
    CHECK(disc > plain + 100);
    report("ucb1: discounted results follow a change of the best arm");
}

static void test_ucb1_mask(void)
{
    ace_ucb1_t b;
    ace_ucb1_init(&b, 5, 3, 0.2, 1.0);
    CHECK(ace_ucb1_select(&b, (1u << 2) | (1u << 4)) == 2);   /* untried: one step down first */
    ace_ucb1_update(&b, 2, 0.5);
    CHECK(ace_ucb1_select(&b, (1u << 2) | (1u << 4)) == 4);
    ace_ucb1_update(&b, 4, 0.1);
    CHECK(ace_ucb1_select(&b, (1u << 2) | (1u << 4)) == 2);   /* both tried: the higher index */
    CHECK(ace_ucb1_select(&b, 1u << 4) == 4);                 /* only what the mask allows */
    CHECK(ace_ucb1_select(&b, 0) == -1);
    report("ucb1: picks among the masked arms, untried nearest first, then by index");
}

/* ------------------------------------------------------------------ duel */
/* One duel on a synthetic signal: the challenger is worth `eff` (fraction of
 * throughput); each slice has noise sd `sd` (the block contrast then has sd
 * `sd`, as measured: 0.08-0.11 here) and a drift of `drift` per slice.
 * Returns the verdict; *blocks the blocks it took. */
static int synthetic_duel(double eff, double sd, double drift, uint32_t *blocks, double *mean)
{
    ace_duel_cfg_t c;
    ace_duel_t d;
    int v = ACE_DUEL_RUNNING;
    ace_duel_cfg_default(&c);
    ace_duel_start(&d, 4, 3);
    for (int t = 0; v == ACE_DUEL_RUNNING; t++) {
        double x = 1 + drift * t + sd * nrand() + (ace_duel_arm(&d) == 3 ? eff : 0);
        v = ace_duel_slice(&d, &c, 0.5 * x, 0.5);
    }
    *blocks = d.n;
    *mean = ace_duel_mean(&d);
    return v;
}

static void duel_rates(double eff, double sd, double drift, int n, double *win, double *blocks)
{
    int w = 0;
    double bl = 0, mean;
    for (int i = 0; i < n; i++) {
        uint32_t b;
        w += synthetic_duel(eff, sd, drift, &b, &mean) == ACE_DUEL_WIN;
        bl += b;
    }
    *win = (double)w / n;
    *blocks = bl / n;
}

/* The win test may look after every block: an equal arm must win at most
 * alpha (5 %) of its duels however long they run, a drift must cancel, and an
 * arm worth 10 % must still win most duels within the 64 blocks. */
static void test_duel_power(void)
{
    double w10, w3, w0, wm3, b10, b3, b0, bm3, wd, bd;
    duel_rates(0.10, 0.09, 0, 400, &w10, &b10);
    duel_rates(0.03, 0.09, 0, 400, &w3, &b3);
    duel_rates(0.00, 0.09, 0, 400, &w0, &b0);
    duel_rates(-0.03, 0.09, 0, 400, &wm3, &bm3);
    duel_rates(0.00, 0.09, 0.002, 400, &wd, &bd);   /* +0.2 % per slice: +80 % over 100 blocks */
    printf("    duel, block sd 9%%: +10%% wins %.0f%% (%.0f blocks), +3%% %.0f%% (%.0f), 0%% %.1f%% (%.0f), "
           "-3%% %.1f%% (%.0f), 0%% with drift %.1f%%\n", 100 * w10, b10, 100 * w3, b3, 100 * w0, b0, 100 * wm3, bm3,
           100 * wd);
    CHECK(w10 >= 0.7);
    CHECK(w0 <= 0.07);          /* alpha = 5 %, plus the sampling spread of 400 duels */
    CHECK(wm3 <= 0.01);
    CHECK(wd <= 0.07);          /* ABBA: a linear drift cancels */
    CHECK(b0 < 64);             /* an equal arm usually stops before the cap (futility) */
    report("duel: anytime-valid win test: an equal arm wins at most alpha, a 10 % arm most duels, drift cancels");
}

static void test_duel_abort(void)
{
    uint32_t blocks;
    double mean;
    int aborted = 0;
    for (int i = 0; i < 100; i++)
        aborted += synthetic_duel(-0.3, 0.09, 0, &blocks, &mean) == ACE_DUEL_ABORT && blocks == 2;
    CHECK(aborted >= 95);
    report("duel: a clearly worse arm (-30 %) is dropped after 2 blocks");
}

static void test_duel_abba(void)
{
    ace_duel_t d;
    ace_duel_cfg_t c;
    int seq[8];
    ace_duel_cfg_default(&c);
    ace_duel_start(&d, 1, 2);
    for (int i = 0; i < 8; i++) { seq[i] = ace_duel_arm(&d); ace_duel_slice(&d, &c, 0.5, 0.5); }
    CHECK(seq[0] == 1 && seq[1] == 2 && seq[2] == 2 && seq[3] == 1);   /* ABBA */
    CHECK(seq[4] == 2 && seq[5] == 1 && seq[6] == 1 && seq[7] == 2);   /* BAAB */
    CHECK(d.n == 2 && fabs(ace_duel_mean(&d)) < 1e-12);
    report("duel: slices run ABBA then BAAB");
}

/* ------------------------------------------------------------ controller */
static hak_knobs_t K;   /* the knob table the synthetic process runs with */

static void base_metrics(ace_metrics_t *m, uint32_t tick)
{
    memset(m, 0, sizeof *m);
    m->tick = tick;
    m->t_ns = (uint64_t)tick * 500000000ull;
    m->dt_ns = tick > 1 ? 500000000ull : 0;
    m->ops_per_s = 1e6;
    m->ops = 500000;
    m->rss_bytes = 100u << 20;
    m->bytes_held = 40u << 20;
    m->bytes_live = 36u << 20;
    m->frag = 40.0 / 36.0;
    m->cpu_percent = -1;
    m->llc_proxy = 0.1;
    m->threads = 2;
    m->knobs = K;
}

/* A busy tick of throughput tput, half of it allocations in class 2 (16-128 B). */
static void busy_metrics(ace_metrics_t *m, uint32_t tick, double tput)
{
    base_metrics(m, tick);
    m->ops_per_s = tput;
    m->ops = (uint64_t)(tput / 2);
    m->allocs[2] = m->ops / 2;
    m->slow_ops[2] = m->allocs[2] / 50;     /* its magazines miss: a cap can matter */
}

/* A synthetic workload whose best TLS cap for class 2 is 16 (15 % per
 * doubling away from it), with +-noise/2 relative noise. */
static void cap16_metrics(ace_metrics_t *m, uint32_t tick, double noise)
{
    double tput = 1e6 * (1.0 - 0.15 * fabs(log2(K.tls_cap[2] / 16.0)));
    if (noise > 0) tput *= 1 + (urand() - 0.5) * noise;
    busy_metrics(m, tick, tput);
}

static void apply(const ace_moves_t *o)
{
    for (uint32_t i = 0; i < o->n; i++) {
        const ace_move_t *mv = &o->mv[i];
        switch (mv->kind) {
        case ACE_K_TLS_CAP: if (!K.fixed_tls_cap[mv->cls]) K.tls_cap[mv->cls] = mv->to; break;
        case ACE_K_DRAIN:   if (!K.fixed_drain[mv->cls]) K.drain_threshold[mv->cls] = mv->to; break;
        case ACE_K_BUNDLE:  K.bundle_width = mv->to; break;
        case ACE_K_PARTIAL: K.partial_release_pages = mv->to; break;
        case ACE_K_DIET:    K.diet_permille = mv->to; break;
        case ACE_K_SPARSE:  K.sparse_div = mv->to; break;
        case ACE_K_SHRINK:  K.shrink_min = mv->to; break;
        case ACE_K_LARGE_MB: K.large_cache_mb = mv->to; break;
        case ACE_K_HOLD:    K.hold_ms = mv->to; break;
        }
    }
}

static const ace_move_t *find_move(const ace_moves_t *o, int kind, int cls)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (o->mv[i].kind == kind && o->mv[i].cls == cls) return &o->mv[i];
    return NULL;
}

/* A fresh state; the rule and bandit tests start settled (test_settle
 * checks the settling itself). */
static void fresh(ace_state_t *st, ace_config_t *cfg)
{
    stub_knobs_defaults();
    K = hak_knobs_static;
    ace_config_default(cfg);
    cfg->settle_ticks = 0;
    ace_state_init(st, cfg, &hak_knobs_static);
}

static void test_settle(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t, first_move = 0, first_explore = 0;
    stub_knobs_defaults();
    K = hak_knobs_static;
    ace_config_default(&cfg);
    ace_state_init(&st, &cfg, &hak_knobs_static);
    for (t = 1; t < 20; t++) {               /* start-up: lock wait and backlog high at once */
        base_metrics(&m, t);
        m.lock_wait_frac = 0.5; m.backlog[3] = 500; m.allocs[2] = m.ops / 2;
        ace_step(&m, &st, &o); apply(&o);
        if (!first_move && o.n) first_move = t;
        if (!first_explore && o.explore_group >= 0) first_explore = t;
    }
    /* tick 1 has no deltas; busy ticks 2..6 settle; rules need 2 high ticks after */
    CHECK(first_move >= 2 + cfg.settle_ticks + cfg.trigger_ticks - 1);
    CHECK(first_explore > 1 + cfg.settle_ticks);
    report("nothing reacts during the first settle_ticks busy ticks (start-up transients)");
}

static void test_backlog_rule(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    fresh(&st, &cfg);
    base_metrics(&m, 1); ace_step(&m, &st, &o); apply(&o);
    CHECK(o.n == 0);
    base_metrics(&m, 2); m.backlog[3] = 100; m.backlog[5] = 5; m.backlog_total = 105;
    ace_step(&m, &st, &o); apply(&o);
    CHECK(find_move(&o, ACE_K_DRAIN, 3) == NULL);      /* one high tick is not enough */
    base_metrics(&m, 3); m.backlog[3] = 110; m.backlog[5] = 5; m.backlog_total = 115;
    ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_DRAIN, 3);
    CHECK(mv && mv->from == 128 && mv->to == 64 && mv->reason == ACE_R_BACKLOG);
    CHECK(find_move(&o, ACE_K_DRAIN, 5) == NULL);
    CHECK(K.drain_threshold[3] == 64 && K.drain_threshold[5] == 128);
    /* still high: another step after two more ticks, at most max_drain_steps */
    for (uint32_t t = 4; t < 20; t++) {
        base_metrics(&m, t); m.backlog[3] = 200; m.backlog_total = 200;
        ace_step(&m, &st, &o); apply(&o);
    }
    CHECK(K.drain_threshold[3] == 32);                   /* 128 -> 64 -> 32 (lowest candidate) */
    /* calm over a whole slow interval, then a slow tick: one step back */
    for (uint32_t t = 20; t < 30; t++) { base_metrics(&m, t); ace_step(&m, &st, &o); apply(&o); }
    base_metrics(&m, 30); m.slow = 1; ace_step(&m, &st, &o); apply(&o);   /* first slow tick: marks the interval */
    for (uint32_t t = 31; t < 40; t++) { base_metrics(&m, t); ace_step(&m, &st, &o); apply(&o); }
    base_metrics(&m, 40); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_DRAIN, 3);
    CHECK(mv && mv->reason == ACE_R_RESTORE);
    CHECK(K.drain_threshold[3] > 32);
    for (uint32_t t = 41; t < 120; t++) { base_metrics(&m, t); m.slow = (t % 10 == 0); ace_step(&m, &st, &o); apply(&o); }
    CHECK(K.drain_threshold[3] == 128);                  /* fully restored, step by step */
    report("fast rule: backlog up -> drain threshold down (128 -> 64), restore when stable");
}

static void test_diet_rule(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    uint32_t t = 1, seen[8], nseen = 0;
    fresh(&st, &cfg);
    /* measured miss rates (counters): the seed's rule acts at once */
    base_metrics(&m, t++); ace_step(&m, &st, &o); apply(&o);
    base_metrics(&m, t++); m.llc_valid = 1; m.llc_miss_rate = 0.45; ace_step(&m, &st, &o); apply(&o);
    CHECK(find_move(&o, ACE_K_DIET, -1) == NULL);
    base_metrics(&m, t++); m.llc_valid = 1; m.llc_miss_rate = 0.45; ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_DIET, -1);
    CHECK(mv && mv->from == 1000 && mv->to == 750 && mv->reason == ACE_R_DIET);
    CHECK(o.pressure == 1);
    CHECK(K.tls_cap[2] * K.diet_permille / 1000 == 24);   /* the seed's 32 -> 24 */
    /* the dead band keeps the diet */
    for (int i = 0; i < 10; i++) { base_metrics(&m, t++); m.llc_valid = 1; m.llc_miss_rate = 0.2; ace_step(&m, &st, &o); apply(&o); }
    CHECK(K.diet_permille == 750);
    /* calm: restored step by step */
    seen[nseen++] = K.diet_permille;
    for (int i = 0; i < 40; i++) {
        base_metrics(&m, t++); m.llc_valid = 1; m.llc_miss_rate = 0.05; ace_step(&m, &st, &o); apply(&o);
        if (K.diet_permille != seen[nseen - 1] && nseen < 8) seen[nseen++] = K.diet_permille;
    }
    CHECK(nseen == 3 && seen[1] == 900 && seen[2] == 1000);
    report("fast rule: LLC pressure -> TLS diet (32 -> 24 at 0.75), gradual restore 0.75 -> 0.90 -> 1.00");
}

/* With only the proxy, pressure starts a diet search from the static value;
 * the diet in force is what the rewards pick. */
static void diet_search(double best_diet, uint32_t *first_try, uint32_t *committed, int *tried_05)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t;
    fresh(&st, &cfg);
    *first_try = 0; *tried_05 = 0;
    for (t = 1; t < 600 && !st.learned[ACE_G_DIET]; t++) {
        double d = K.diet_permille / 1000.0;
        double tput = 1e6 * (1.0 - 0.6 * fabs(d - best_diet));
        busy_metrics(&m, t, tput);
        m.llc_proxy = 2.0;
        ace_step(&m, &st, &o); apply(&o);
        if (!*first_try && K.diet_permille != 1000) *first_try = K.diet_permille;
        if (K.diet_permille == 500) *tried_05 = 1;
        if (t == 3) CHECK(o.pressure && (K.diet_permille == 1000 || o.explore_group == ACE_G_DIET));   /* no diet but a duel's */
    }
    CHECK(st.learned[ACE_G_DIET]);
    *committed = K.diet_permille;
}

static void test_diet_proxy(void)
{
    uint32_t first, committed;
    int tried_05;
    diet_search(1.0, &first, &committed, &tried_05);
    CHECK(first == 900 && committed == 1000 && !tried_05);   /* 0.9 worse: search stops there */
    diet_search(0.66, &first, &committed, &tried_05);
    CHECK(first == 900 && committed == 660);
    report("LLC proxy: pressure starts a diet search at the static value; the rewards pick the diet");
}

/* synthetic contention that wider bundles relieve: 5 % at 32, 3 % at 64, 2.1 % at 128 */
static double lock_relieved(void) { return K.bundle_width <= 32 ? 0.05 : K.bundle_width <= 64 ? 0.03 : 0.021; }

static void test_lock_rule(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o); apply(&o);
    for (int i = 0; i < 2; i++) { base_metrics(&m, t++); m.lock_wait_frac = lock_relieved(); ace_step(&m, &st, &o); apply(&o); }
    mv = find_move(&o, ACE_K_BUNDLE, -1);
    CHECK(mv && mv->from == 32 && mv->to == 64 && mv->reason == ACE_R_LOCKS);
    for (int i = 0; i < 12; i++) { base_metrics(&m, t++); m.lock_wait_frac = lock_relieved(); ace_step(&m, &st, &o); apply(&o); }
    CHECK(K.bundle_width == 128);                        /* each step relieved: kept; bounded at 2 steps */
    base_metrics(&m, t++); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.bundle_width == 128);                        /* a trigger in this interval: no restore */
    for (int i = 0; i < 5; i++) { base_metrics(&m, t++); ace_step(&m, &st, &o); apply(&o); }
    base_metrics(&m, t++); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_BUNDLE, -1);
    CHECK(mv && mv->to == 64 && mv->reason == ACE_R_RESTORE);
    report("fast rule: mutex wait up -> bundle width up (32 -> 64 -> 128) while it relieves, slow restore");
}

static void test_lock_rule_no_relief(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    uint32_t t = 1, steps = 0, undone = 0, first_undo = 0, second_step = 0;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o); apply(&o);
    for (int i = 0; i < 40; i++) {           /* 5 % lock wait whatever the bundle width */
        base_metrics(&m, t++); m.lock_wait_frac = 0.05; ace_step(&m, &st, &o); apply(&o);
        mv = find_move(&o, ACE_K_BUNDLE, -1);
        if (mv && mv->reason == ACE_R_LOCKS) { steps++; if (undone && !second_step) second_step = t; }
        if (mv && mv->reason == ACE_R_NORELIEF) { CHECK(mv->from == 64 && mv->to == 32); if (!undone++) first_undo = t; }
        CHECK(K.bundle_width <= 64);         /* never a second step on top of a useless one */
    }
    CHECK(undone >= 1 && steps >= 2);
    CHECK(second_step >= first_undo + cfg.rest_ticks);   /* the rule rests after an undo */
    report("fast rule: a bundle step that does not lower lock wait is undone, then the rule rests");
}

static void test_slow_rules(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    /* fragmentation: not acted on in a fast tick */
    base_metrics(&m, t++); m.bytes_held = 30u << 20; m.bytes_live = 10u << 20; m.frag = 3.0; m.partial_spans = 50;
    ace_step(&m, &st, &o);
    CHECK(o.partial_release_pages == 0);
    base_metrics(&m, t++); m.slow = 1; m.bytes_held = 30u << 20; m.bytes_live = 10u << 20; m.frag = 3.0; m.partial_spans = 50;
    m.knobs.partial_release_pages = 4;
    ace_step(&m, &st, &o);
    CHECK(o.partial_release_pages == 4);                  /* N = the knob */
    CHECK(o.budget_ns == 5000000ull);
    CHECK(o.scavenge == ACE_SCAV_NONE);                   /* first slow tick: RSS reference only */
    /* RSS up by 2x between slow ticks -> budgeted scavenge */
    base_metrics(&m, t++); m.slow = 1; m.rss_bytes = 200u << 20;
    ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_RSS_UP);
    CHECK(o.partial_release_pages == 0);                  /* frag 1.11: no partial release */
    base_metrics(&m, t++); m.slow = 1; m.rss_bytes = 201u << 20;
    ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_NONE);                   /* stable RSS */
    report("slow rules: fragmentation -> partial release of N pages; RSS up -> budgeted scavenge (5 ms)");
}

static void test_idle_scavenge(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    base_metrics(&m, t++); m.ops_per_s = 0; m.ops = 0; ace_step(&m, &st, &o);
    CHECK(o.idle && o.scavenge == ACE_SCAV_NONE);
    base_metrics(&m, t++); m.ops_per_s = 0; m.ops = 0; ace_step(&m, &st, &o);
    CHECK(o.idle && o.scavenge == ACE_SCAV_IDLE);
    base_metrics(&m, t++); m.ops_per_s = 0; m.ops = 0; m.last_scavenge_ran = 1; m.last_scavenge_pages = 500;
    ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_IDLE);                   /* still finding pages: keep going */
    base_metrics(&m, t++); m.ops_per_s = 0; m.ops = 0; m.last_scavenge_ran = 1; m.last_scavenge_pages = 0;
    m.last_scavenge_hit_deadline = 1;
    ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_IDLE);                   /* 0 pages but cut short by the deadline: go on */
    base_metrics(&m, t++); m.ops_per_s = 0; m.ops = 0; m.last_scavenge_ran = 1; m.last_scavenge_pages = 0;
    ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_NONE);                   /* a whole pass found nothing: stop */
    base_metrics(&m, t++); m.ops_per_s = 0; ace_step(&m, &st, &o);
    CHECK(o.scavenge == ACE_SCAV_NONE);
    report("idle: budgeted scavenge each tick until a pass returns nothing");
}

static void test_valves(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    fresh(&st, &cfg);
    base_metrics(&m, 1); ace_step(&m, &st, &o);
    base_metrics(&m, 2); m.lat_n = 100; m.p99_ns = 9000000; ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_NONE);
    base_metrics(&m, 3); m.lat_n = 100; m.p99_ns = 12000000; ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_P99 && o.n == 0);
    base_metrics(&m, 4); ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_P99);                        /* stopped for good */

    fresh(&st, &cfg);
    base_metrics(&m, 1); m.rss_bytes = 16385ull << 20; ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_RSS);
    fresh(&st, &cfg);
    base_metrics(&m, 1); m.cpu_percent = 4.9; ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_NONE);
    base_metrics(&m, 2); m.cpu_percent = 5.5; ace_step(&m, &st, &o);
    CHECK(o.stop == ACE_STOP_CPU);
    report("safety valves: p99 > max, RSS > max, CPU > max each stop ACE");
}

static void test_fixed_knobs(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    stub_knobs_defaults();
    hak_knobs_static.fixed_drain[3] = 1;
    hak_knobs_static.fixed_diet = 1;
    hak_knobs = hak_knobs_static;
    K = hak_knobs_static;
    ace_config_default(&cfg);
    cfg.settle_ticks = 0;
    ace_state_init(&st, &cfg, &hak_knobs_static);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    for (int i = 0; i < 5; i++) {
        base_metrics(&m, t++); m.backlog[3] = 500; m.backlog[4] = 500; m.llc_proxy = 3;
        ace_step(&m, &st, &o); apply(&o);
        CHECK(find_move(&o, ACE_K_DRAIN, 3) == NULL);
        CHECK(find_move(&o, ACE_K_DIET, -1) == NULL);
    }
    CHECK(K.drain_threshold[3] == 128 && K.drain_threshold[4] < 128 && K.diet_permille == 1000);
    report("knobs fixed by a static override are never moved");
}

/* The memory rules' knobs, fixed by their overrides, stay put under every
 * trigger: re-faults, ghost hits, an RSS target, measured page costs. */
static void test_fixed_memory_knobs(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    stub_knobs_defaults();
    hak_knobs_static.fixed_partial = hak_knobs_static.fixed_sparse = hak_knobs_static.fixed_shrink = 1;
    hak_knobs_static.fixed_large_cache = hak_knobs_static.fixed_hold = 1;
    hak_knobs = hak_knobs_static;
    K = hak_knobs_static;
    ace_config_default(&cfg);
    cfg.settle_ticks = 0;
    ace_state_init(&st, &cfg, &hak_knobs_static);
    for (int i = 0; i < 12; i++) {
        busy_metrics(&m, t++, 1e6);
        m.pages_released = 1000; m.pages_reused = 900; m.madvise_ns = 50000000; m.ghost_hits = 10;
        m.probe_fault_ns = 1000; m.probe_release_ns = 100;
        if (i >= 8) { cfg.mem.rss_target_bytes = 1u << 20; st.cfg.mem.rss_target_bytes = 1u << 20; }
        ace_step(&m, &st, &o); apply(&o);
        for (int k = ACE_K_SPARSE; k <= ACE_K_HOLD; k++) CHECK(find_move(&o, k, -1) == NULL);
        CHECK(find_move(&o, ACE_K_PARTIAL, -1) == NULL);
    }
    CHECK(o.scavenge == ACE_SCAV_TARGET);                 /* the scavenge is not a knob: it runs */
    report("memory knobs fixed by their overrides (release mode, sparse thresholds, Large bound, hold time) never move");
}

/* Ski rental: H = (release + fault) / (lambda per page), lambda = price / 1024
 * CPU-s per MiB-s; within its range; from ace_step, a hold-time move once the
 * probe has measured the costs. */
static void test_hold_time(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    double expect = 2000e-9 / (0.25 / 1024 / 256) * 1e9;      /* 2.097 s */
    ace_config_default(&cfg);
    CHECK(fabs((double)ace_mem_hold_ns(&cfg.mem, 2000) - expect) < 1e-3 * expect);
    cfg.mem.price = 1.0;
    CHECK(fabs((double)ace_mem_hold_ns(&cfg.mem, 2000) - expect / 4) < 1e-3 * expect);
    cfg.mem.price = 0;
    CHECK(ace_mem_hold_ns(&cfg.mem, 2000) == cfg.mem.hold_max_ns);   /* free memory: hold it all */
    cfg.mem.price = 1e6;
    CHECK(ace_mem_hold_ns(&cfg.mem, 2000) == cfg.mem.hold_min_ns);
    fresh(&st, &cfg);
    base_metrics(&m, 1); ace_step(&m, &st, &o);
    base_metrics(&m, 2); ace_step(&m, &st, &o);
    CHECK(find_move(&o, ACE_K_HOLD, -1) == NULL);          /* no costs measured: the static 1000 ms */
    base_metrics(&m, 3); m.probe_release_ns = 500; m.probe_fault_ns = 1500; ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_HOLD, -1);
    CHECK(mv && mv->reason == ACE_R_HOLD && mv->from == 1000 && mv->to == 2097);
    /* ACE's own release passes replace the probe's release cost */
    base_metrics(&m, 4); m.pages_released = 1000; m.release_ns_page = 100; ace_step(&m, &st, &o); apply(&o);
    CHECK(st.mem.c_release_ns > 100 && st.mem.c_release_ns < 500);
    CHECK(find_move(&o, ACE_K_HOLD, -1) == NULL);          /* under 20 % away: no move */
    report("hold time (ski rental): (release + fault cost) / price per page-second, from the measured costs");
}

/* What a tick's releases cost (the core's madvise time + a fault per page
 * reused within the hold time) against the memory they saved (pages not
 * reused x lambda per page x the hold time: 954 ns a page at 0.25 cores/GiB
 * and the static 1 s).  Cost above value on two ticks: 2 -> 1 (with the
 * sparse thresholds 4 / 256), one more tick: keep pages; a calm slow
 * interval steps back. */
static void test_refault_rule(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    for (int i = 0; i < 4; i++) {            /* under 1 MiB released; or worth more than it cost */
        busy_metrics(&m, t++, 1e6);
        if (i < 2) { m.pages_released = 100; m.madvise_ns = 50000000; }
        else { m.pages_released = 5000; m.pages_reused = 500; m.madvise_ns = 1000000; }   /* 1 ms < 4.3 ms */
        ace_step(&m, &st, &o); apply(&o);
        CHECK(find_move(&o, ACE_K_PARTIAL, -1) == NULL);
    }
    busy_metrics(&m, t++, 1e6); m.pages_released = 2000; m.pages_reused = 100; m.madvise_ns = 3000000;
    ace_step(&m, &st, &o); apply(&o);
    CHECK(find_move(&o, ACE_K_PARTIAL, -1) == NULL);       /* 1.7x on one tick is not a trend */
    CHECK(st.mem.cost_ns == 3000000 && fabs(st.mem.value_ns - 1900 * 0.25 / 1024 / 256 * 1e9) < 1);
    busy_metrics(&m, t++, 1e6); m.pages_released = 2000; m.pages_reused = 100; m.madvise_ns = 3000000;
    ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_PARTIAL, -1);
    CHECK(mv && mv->reason == ACE_R_REFAULT && mv->from == 2 && mv->to == 1);
    CHECK(K.sparse_div == 4 && K.shrink_min == 256);       /* the step's sparse thresholds */
    /* re-faults alone: 1900 of 2000 back, 1.5 us a fault, no madvise time */
    busy_metrics(&m, t++, 1e6); m.pages_released = 2000; m.pages_reused = 1900; m.probe_fault_ns = 1500;
    ace_step(&m, &st, &o); apply(&o);
    CHECK(K.partial_release_pages == 0 && K.sparse_div == 2 && K.shrink_min == 64);   /* keep pages */
    busy_metrics(&m, t++, 1e6); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.partial_release_pages == 0);                   /* the trigger was in this slow interval */
    busy_metrics(&m, t++, 1e6); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    mv = find_move(&o, ACE_K_PARTIAL, -1);
    CHECK(mv && mv->reason == ACE_R_RESTORE && K.partial_release_pages == 1);
    busy_metrics(&m, t++, 1e6); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.partial_release_pages == 2 && K.sparse_div == 2 && K.shrink_min == 64);
    /* a clear loss (over 4x what it saved: 20.2 ms against 2.8 ms, the hold
     * time now 1.57 s from the probe's fault) acts on its first tick */
    busy_metrics(&m, t++, 1e6); m.pages_released = 2000; m.pages_reused = 100; m.madvise_ns = 20000000;
    ace_step(&m, &st, &o); apply(&o);
    CHECK(K.partial_release_pages == 1);
    report("release cost (madvise + re-faults) above the memory saved -> release mode 2 -> 1 -> keep pages, "
           "at once when over 4x; restored when calm");
}

/* Ghost hits raise the Large bound one candidate per trigger (64 -> 128 ->
 * 256 MiB); a slow interval without them brings it back one step. */
static void test_ghost_rule(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    const ace_move_t *mv;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    busy_metrics(&m, t++, 1e6); m.ghost_hits = 1; ace_step(&m, &st, &o); apply(&o);
    busy_metrics(&m, t++, 1e6); m.ghost_hits = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.large_cache_mb == 64);                         /* one ghost hit a tick: not a trigger */
    for (int i = 0; i < 2; i++) { busy_metrics(&m, t++, 1e6); m.ghost_hits = 6; ace_step(&m, &st, &o); apply(&o); }
    mv = find_move(&o, ACE_K_LARGE_MB, -1);
    CHECK(mv && mv->reason == ACE_R_GHOST && mv->from == 64 && mv->to == 128);
    for (int i = 0; i < 2; i++) { busy_metrics(&m, t++, 1e6); m.ghost_hits = 6; ace_step(&m, &st, &o); apply(&o); }
    CHECK(K.large_cache_mb == 256);
    busy_metrics(&m, t++, 1e6); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    busy_metrics(&m, t++, 1e6); m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.large_cache_mb == 128);
    report("ghost hits -> Large bound 64 -> 128 -> 256 MiB, one step back per calm slow interval");
}

/* Above the soft target: the most eager release step, the smallest bound,
 * the shortest hold, a scavenge every tick, and ghost hits raise nothing;
 * below it again the steps come back toward the static ones. */
static void test_rss_target(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    stub_knobs_defaults();
    K = hak_knobs_static;
    ace_config_default(&cfg);
    cfg.settle_ticks = 0;
    cfg.mem.rss_target_bytes = 80u << 20;
    ace_state_init(&st, &cfg, &hak_knobs_static);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    busy_metrics(&m, t++, 1e6); m.ghost_hits = 9; m.probe_fault_ns = 1000; ace_step(&m, &st, &o); apply(&o);
    CHECK(o.scavenge == ACE_SCAV_TARGET);                  /* base_metrics: RSS 100 MiB */
    CHECK(K.partial_release_pages == 8 && K.sparse_div == 1 && K.shrink_min == 0);
    CHECK(K.large_cache_mb == 16 && K.hold_ms == 10);
    busy_metrics(&m, t++, 1e6); m.ghost_hits = 9; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.large_cache_mb == 16 && o.scavenge == ACE_SCAV_TARGET);
    busy_metrics(&m, t++, 1e6); m.rss_bytes = 60u << 20; ace_step(&m, &st, &o); apply(&o);
    CHECK(o.scavenge == ACE_SCAV_NONE && K.hold_ms > 1000);   /* the price's hold time again */
    busy_metrics(&m, t++, 1e6); m.rss_bytes = 60u << 20; m.slow = 1; ace_step(&m, &st, &o); apply(&o);
    CHECK(K.partial_release_pages == 4 && K.large_cache_mb == 32);
    report("RSS above the target: most eager release, bound 16 MiB, no hold, scavenge each tick; back when below");
}

/* The books: J = CPU-s + lambda MiB-s over each slow interval. */
static void test_books(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t = 1;
    fresh(&st, &cfg);
    base_metrics(&m, t++); ace_step(&m, &st, &o);
    for (int i = 0; i < 4; i++) {            /* 2 s at 100 MiB and one core */
        busy_metrics(&m, t++, 1e6); m.proc_cpu_ns = 500000000ull; m.slow = i == 3;
        ace_step(&m, &st, &o);
    }
    CHECK(fabs(o.j_cpu_s - 2.0) < 1e-9 && fabs(o.j_mib_s - 200.0) < 1e-9);
    CHECK(fabs(o.j - (2.0 + 0.25 / 1024 * 200.0)) < 1e-9);
    busy_metrics(&m, t++, 1e6); m.proc_cpu_ns = 500000000ull; m.slow = 1; ace_step(&m, &st, &o);
    CHECK(fabs(o.j_cpu_s - 0.5) < 1e-9);                   /* a new interval */
    report("books: J = CPU-s + price/1024 x MiB-s per slow interval");
}

/* The bandit over ace_step: throughput depends on the TLS cap of the busy
 * band (best at 16); ACE must settle there without being told. */
static void test_bandit_learns(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t;
    int tried_4 = 0, wins = 0;
    fresh(&st, &cfg);
    for (t = 1; t < 400; t++) {
        cap16_metrics(&m, t, 0.02);
        ace_step(&m, &st, &o); apply(&o);
        tried_4 |= K.tls_cap[2] == 4;
        wins += o.duel_verdict == ACE_DUEL_WIN;
        CHECK(K.tls_cap[30] == 32);                          /* idle band untouched */
        if (st.learned[ACE_G_CAP0] && st.explore_g != ACE_G_CAP0 &&
            ace_cand_tls_cap[st.bandit[ACE_G_CAP0].committed] == 16)
            CHECK(K.tls_cap[2] == 16 && K.tls_cap[7] == 16);  /* outside visits: the committed arm */
    }
    CHECK(st.learned[ACE_G_CAP0]);
    CHECK(ace_cand_tls_cap[st.bandit[ACE_G_CAP0].committed] == 16);
    CHECK(wins >= 1 && !tried_4);            /* 32 -> 16 won, 8 lost: 4 is never tried */
    CHECK(K.drain_threshold[2] == 128);                      /* no remote frees: drain never explored */
    report("bandit: duels climb to the best TLS cap for the busy band (16); arms past a loss are not tried");
}

/* The arm in force (32) is best, 16 is 10 % worse, 64 2 % worse: both
 * neighbours lose, and nothing beyond them is tried. */
static void test_bandit_neighbours(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t, at_16 = 0, at_8 = 0, at_4 = 0, at_64 = 0;
    fresh(&st, &cfg);
    for (t = 1; t < 800 && !st.learned[ACE_G_CAP0]; t++) {
        uint32_t cap = K.tls_cap[2];
        double tput = cap == 32 ? 1e6 : cap == 64 ? 0.98e6 : cap == 16 ? 0.9e6 : 0.8e6;
        at_16 += cap == 16; at_8 += cap == 8; at_4 += cap == 4; at_64 += cap == 64;
        busy_metrics(&m, t, tput * (1 + 0.02 * nrand()));
        ace_step(&m, &st, &o); apply(&o);
    }
    CHECK(st.learned[ACE_G_CAP0]);
    CHECK(at_8 == 0 && at_4 == 0 && at_16 > 0 && at_64 > 0);
    CHECK(at_16 <= 2 * 4 * cfg.duel.min_blocks);            /* a clear loss is decided in a few blocks */
    CHECK(ace_cand_tls_cap[st.bandit[ACE_G_CAP0].committed] == 32);
    report("bandit: neighbours first; a losing neighbour ends its direction");
}

static void test_bandit_abort(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t, at_16 = 0;
    int aborted = 0;
    fresh(&st, &cfg);
    for (t = 1; t < 400 && !st.learned[ACE_G_CAP0]; t++) {
        at_16 += K.tls_cap[2] == 16;
        busy_metrics(&m, t, K.tls_cap[2] == 16 ? 0.5e6 : 1e6);
        ace_step(&m, &st, &o); apply(&o);
        aborted |= o.duel_verdict == ACE_DUEL_ABORT && o.duel_chal == 2;
    }
    CHECK(aborted && at_16 == 2 * 2);        /* 2 blocks, 2 slices of each at the challenger */
    report("bandit: a clearly worse challenger (-50 %) is dropped after 2 blocks");
}

/* Slices between fast ticks: the duel goes on, the rules and the tick wait. */
static void test_slices(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t, w;
    int slices_seen = 0, arms[2] = { 0, 0 };
    fresh(&st, &cfg);
    st.rr_next = ACE_G_CAP0;                 /* the TLS cap first (the diet would be) */
    for (t = 1; t < 4; t++) { busy_metrics(&m, t, 1e6); ace_step(&m, &st, &o); apply(&o); }
    CHECK(st.explore_g == ACE_G_CAP0 && o.slice_ns == cfg.slice_ns);
    for (w = 0; w < 8; w++) {
        busy_metrics(&m, t, 1e6);
        m.slice = 1;
        m.backlog[3] = 1000;                 /* a backlog seen only in slices triggers nothing */
        ace_step(&m, &st, &o); apply(&o);
        CHECK(!find_move(&o, ACE_K_DRAIN, 3));
        slices_seen++;
        arms[K.tls_cap[2] == 32]++;
    }
    CHECK(st.tick == t - 1 && slices_seen == 8);
    CHECK(arms[0] == 4 && arms[1] == 4);     /* two ABBA blocks */
    CHECK(st.duel.n >= 2);
    report("slices: the duel runs between fast ticks; rules and ticks wait for the tick");
}

static void test_signal_first(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t;
    int first = -1;
    fresh(&st, &cfg);
    st.cfg.settle_ticks = 5;             /* as by default: pressure is known before the first visit */
    for (t = 1; t < 40 && first < 0; t++) {
        base_metrics(&m, t);
        m.allocs[2] = m.ops / 2;         /* a busy TLS band (explored first in round robin) */
        m.llc_proxy = 1.5;               /* and LLC pressure: the diet rule's metric */
        ace_step(&m, &st, &o); apply(&o);
        if (o.explore_group >= 0) first = o.explore_group;
    }
    CHECK(first == ACE_G_DIET);
    report("bandit: a group a rule points at (LLC pressure -> diet) is explored first");
}

static void test_scavenge_cpu_budget(void)
{
    ace_scavenge_result_t r;
    const uint64_t budget = 2000000;          /* 2 ms of CPU */
    /* preempted: wall slices go on while CPU budget is left, up to the wall cap */
    stub_release_partial_calls = 0;
    stub_release_mode = STUB_RELEASE_PREEMPTED;
    ace_scavenge_partial(2, budget, &r);
    CHECK(stub_release_partial_calls > 1);
    CHECK(r.pages_partial == 10u * (size_t)stub_release_partial_calls);
    CHECK(r.hit_deadline);
    CHECK(r.elapsed_ns >= 4 * budget && r.elapsed_ns < 4 * budget + 20000000ull);
    CHECK(r.cpu_ns < budget);
    /* busy: the CPU budget ends the pass */
    stub_release_partial_calls = 0;
    stub_release_mode = STUB_RELEASE_BUSY;
    ace_scavenge_partial(2, budget, &r);
    CHECK(r.hit_deadline && r.cpu_ns >= budget * 9 / 10);
    CHECK(r.elapsed_ns < 4 * budget);
    /* a pass that walks everything before its deadline is one slice */
    stub_release_partial_calls = 0;
    stub_release_mode = STUB_RELEASE_NORMAL;
    stub_release_partial_pages = 5;
    ace_scavenge_partial(2, budget, &r);
    CHECK(stub_release_partial_calls == 1 && r.pages_partial == 5 && !r.hit_deadline);
    report("scavenge budget is ACE's CPU time: a preempted pass goes on (wall cap 4x), a busy one stops");
}

static void test_phase_change(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t;
    int changes = 0;
    fresh(&st, &cfg);
    st.cfg.settle_ticks = 5;                  /* as by default: a new phase settles first */
    for (t = 1; t < 80; t++) {                /* phase 1: 16-128 B, cap 16 is best */
        cap16_metrics(&m, t, 0);
        ace_step(&m, &st, &o); apply(&o);
        changes += o.phase_change;
    }
    CHECK(changes == 0 && st.learned[ACE_G_CAP0]);
    for (; t < 83; t++) {                     /* phase 2: 1-16 KiB */
        base_metrics(&m, t);
        m.ops_per_s = 3e6; m.ops = 1500000; m.allocs[25] = m.ops / 2;
        ace_step(&m, &st, &o); apply(&o);
        if (o.phase_change) { changes++; CHECK(o.phase_from == 0 && o.phase_to == 2); }
    }
    CHECK(changes == 1);
    CHECK(!st.learned[ACE_G_CAP0] && st.explore_g == -1);   /* learning starts over */
    CHECK(st.bandit[ACE_G_CAP0].total == 0);
    report("a new phase (another size band carries most allocations) makes the bandits start over");
}

/* Sizes spread evenly over two bands (huge_ws: 50/50 around 128 B, the lead
 * flipping with the tick's mix) are one phase; a band carrying twice the old
 * one's allocations is a new one. */
static void test_phase_even_split(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t;
    int changes = 0;
    fresh(&st, &cfg);
    for (t = 1; t < 60; t++) {
        base_metrics(&m, t);
        m.ops_per_s = 3e6; m.ops = 1500000;
        m.allocs[3] = (t / 3) % 2 ? 300000 : 450000;    /* 16-128 B: 40 % or 60 %, 3 ticks each */
        m.allocs[10] = 750000 - m.allocs[3];            /* 144 B-1 KiB: the rest */
        ace_step(&m, &st, &o); apply(&o);
        changes += o.phase_change;
    }
    CHECK(changes == 0);
    for (; t < 64; t++) {                                /* 144 B-1 KiB: 70 % */
        base_metrics(&m, t);
        m.ops_per_s = 3e6; m.ops = 1500000;
        m.allocs[3] = 225000; m.allocs[10] = 525000;
        ace_step(&m, &st, &o); apply(&o);
        if (o.phase_change) { changes++; CHECK(o.phase_to == 1); }
    }
    CHECK(changes == 1);
    report("sizes split evenly over two bands are one phase; a band with twice the other's is a new one");
}

static void test_revisit_backoff(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    uint32_t t, early = 0, late = 0;
    fresh(&st, &cfg);
    for (t = 1; t < 1200; t++) {
        cap16_metrics(&m, t, 0.02);
        ace_step(&m, &st, &o); apply(&o);
        if (o.explore_group >= 0) { if (t < 200) early++; else if (t >= 1000) late++; }
    }
    CHECK(ace_cand_tls_cap[st.bandit[ACE_G_CAP0].committed] == 16);
    CHECK(st.revisit_wait[ACE_G_CAP0] >= cfg.revisit_ticks_max);
    CHECK(late * 4 < early);                 /* a stable workload is explored less and less */
    report("revisits that keep the arm in force come further apart (20 -> 320 ticks)");
}

static void test_reward_terms(void)
{
    ace_config_t cfg; ace_state_t st; ace_metrics_t m; ace_moves_t o;
    fresh(&st, &cfg);
    base_metrics(&m, 1); ace_step(&m, &st, &o);
    base_metrics(&m, 2); ace_step(&m, &st, &o);
    CHECK(o.reward_valid);
    CHECK(fabs(o.t_term - 0.5) < 1e-9);                      /* at the baseline: 0.5 */
    CHECK(o.t_term >= 0 && o.t_term <= 1 && o.m_term >= 0 && o.m_term <= 1);
    CHECK(o.l_term == 0);
    base_metrics(&m, 3); m.ops_per_s = 1e7; m.lock_wait_frac = 0.5; ace_step(&m, &st, &o);
    CHECK(o.t_term == 1.0 && o.l_term == 1.0);               /* clamped to [0, 1] */
    CHECK(o.b_term == 0);
    base_metrics(&m, 4); m.backlog_total = 1000000; ace_step(&m, &st, &o);
    CHECK(o.b_term == 1.0);
    CHECK(fabs(o.reward - (0.5 * 1e6 / st.base_ops - 0.2 * o.m_term - 0.2 * o.l_term - 0.1 * o.f_term - 0.1)) < 0.2);
    base_metrics(&m, 5); m.ops_per_s = 1e7; m.lock_wait_frac = 0.5; m.backlog_total = 1000000; ace_step(&m, &st, &o);
    CHECK(fabs(o.reward - (1.0 - 0.2 * o.m_term - 0.2 - 0.1 * o.f_term - 0.1)) < 1e-9);
    report("reward = throughput - (misses + locks + frag + backlog), terms in [0, 1] against baselines");
}

/* ------------------------------------------------------------ helpers */
static void test_formatter(void)
{
    hak_buf_t b;
    int ok;
    hak_buf_reset(&b);
    hak_put_str(&b, "r="); hak_put_fix(&b, 0.845, 2); hak_put_ch(&b, ' ');
    hak_put_u64(&b, 18446744073709551615ull); hak_put_ch(&b, ' ');
    hak_put_i64(&b, -42); hak_put_ch(&b, ' ');
    hak_put_fix(&b, -1.5, 1); hak_put_ch(&b, ' '); hak_put_fix(&b, 3.0, 0);
    CHECK(b.n == strlen("r=0.85 18446744073709551615 -42 -1.5 3"));
    CHECK(memcmp(b.b, "r=0.85 18446744073709551615 -42 -1.5 3", b.n) == 0);
    CHECK(hak_parse_double("0.25", NULL, &ok) == 0.25 && ok);
    hak_parse_double("x", NULL, &ok);
    CHECK(!ok);
    {
        uint64_t v[7] = { 5, 1, 9, 3, 7, 2, 8 }, s[7];
        CHECK(ace_percentile(v, 7, s, 50) == 5 && ace_percentile(v, 7, s, 99) == 9);
    }
    report("malloc-free formatter, parser, percentile");
}

int main(void)
{
    test_ucb1_converges();
    test_fixed_memory_knobs();
    test_hold_time();
    test_refault_rule();
    test_ghost_rule();
    test_rss_target();
    test_books();
    test_ucb1_discount();
    test_ucb1_mask();
    test_duel_abba();
    test_duel_power();
    test_duel_abort();
    test_settle();
    test_backlog_rule();
    test_diet_rule();
    test_diet_proxy();
    test_lock_rule();
    test_lock_rule_no_relief();
    test_slow_rules();
    test_idle_scavenge();
    test_valves();
    test_fixed_knobs();
    test_bandit_learns();
    test_bandit_neighbours();
    test_bandit_abort();
    test_slices();
    test_signal_first();
    test_revisit_backoff();
    test_phase_change();
    test_phase_even_split();
    test_scavenge_cpu_budget();
    test_reward_terms();
    test_formatter();
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
