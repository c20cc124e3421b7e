/* UCB1 with hysteresis and cooldown.  See hakmem_ace_ucb1.h. */
#include "hakmem_ace_ucb1.h"
#include <string.h>

/* No libm: the library links with -pthread only. */
static double ace_sqrt(double x)
{
    double r = x > 1 ? x : 1;
    if (x <= 0) return 0;
    for (int i = 0; i < 60; i++) {
        double n = 0.5 * (r + x / r);
        if (n == r) break;
        r = n;
    }
    return r;
}

/* natural log for x >= 1: x = 2^k * m with m in [1, 2), ln m by atanh series */
static double ace_ln(double x)
{
    int k = 0;
    double m, y, y2, term, sum = 0;
    if (x <= 1) return 0;
    for (m = x; m >= 2; m *= 0.5) k++;
    y = (m - 1) / (m + 1);
    y2 = y * y;
    term = y;
    for (int i = 1; i < 40; i += 2) { sum += term / i; term *= y2; }
    return k * 0.69314718055994530942 + 2 * sum;
}

void ace_ucb1_init(ace_ucb1_t *b, uint32_t n_arms, int initial_arm,
                   double c, double hysteresis, uint32_t cooldown)
{
    memset(b, 0, sizeof *b);
    if (n_arms > ACE_UCB1_MAX_ARMS) n_arms = ACE_UCB1_MAX_ARMS;
    if (n_arms == 0) n_arms = 1;
    b->n_arms = n_arms;
    if (initial_arm < 0) initial_arm = 0;
    if ((uint32_t)initial_arm >= n_arms) initial_arm = (int)n_arms - 1;
    b->committed = initial_arm;
    b->c = c;
    b->hysteresis = hysteresis;
    b->cooldown = cooldown;
}

double ace_ucb1_mean(const ace_ucb1_t *b, int arm)
{
    return b->count[arm] ? b->sum[arm] / (double)b->count[arm] : 0.0;
}

int ace_ucb1_all_tried(const ace_ucb1_t *b)
{
    uint32_t i;
    for (i = 0; i < b->n_arms; i++) if (!b->count[i] && !(b->skip & (1u << i))) return 0;
    return 1;
}

void ace_ucb1_skip_beyond(ace_ucb1_t *b, int arm, int dir)
{
    for (int i = arm + dir; i >= 0 && i < (int)b->n_arms; i += dir)
        if (!b->count[i]) b->skip |= 1u << i;
}

int ace_ucb1_select(const ace_ucb1_t *b)
{
    uint32_t i;
    int d, best = -1;
    double bv = -1e300, lnN;
    /* untried arms first, nearest to the arm in force first (the committed
     * arm itself, then one step down, one step up, ...) */
    for (d = 0; d < (int)b->n_arms; d++) {
        int lo = b->committed - d, hi = b->committed + d;
        if (lo >= 0 && !b->count[lo] && !(b->skip & (1u << lo))) return lo;
        if (hi < (int)b->n_arms && !b->count[hi] && !(b->skip & (1u << hi))) return hi;
    }
    lnN = ace_ln((double)(b->total > 1 ? b->total : 1));
    for (i = 0; i < b->n_arms; i++) {
        if (!b->count[i]) continue;            /* ruled out */
        double v = ace_ucb1_mean(b, (int)i) + b->c * ace_sqrt(2.0 * lnN / (double)b->count[i]);
        if (v > bv) { bv = v; best = (int)i; }
    }
    return best < 0 ? b->committed : best;
}

void ace_ucb1_update(ace_ucb1_t *b, int arm, double reward)
{
    if (arm < 0 || (uint32_t)arm >= b->n_arms) return;
    b->sum[arm] += reward;
    b->count[arm]++;
    b->total++;
}

int ace_ucb1_best(const ace_ucb1_t *b)
{
    uint32_t i;
    int best = -1;
    double bv = -1e300;
    for (i = 0; i < b->n_arms; i++) {
        if (!b->count[i]) continue;
        double v = ace_ucb1_mean(b, (int)i);
        if (v > bv) { bv = v; best = (int)i; }
    }
    return best < 0 ? b->committed : best;
}

int ace_ucb1_cooling(const ace_ucb1_t *b, uint64_t now)
{
    return b->switched && now < b->last_switch + b->cooldown;
}

void ace_ucb1_observe(ace_ucb1_t *b, int arm, uint32_t n, double s2)
{
    if (arm < 0 || (uint32_t)arm >= b->n_arms) return;
    b->obs[arm] += n;
    if (n >= 2) {
        b->noise_var = (b->noise_var * b->noise_n + s2) / (b->noise_n + 1);
        b->noise_n++;
    }
}

int ace_ucb1_commit(ace_ucb1_t *b, uint64_t now)
{
    int best = ace_ucb1_best(b);
    if (best == b->committed) return best;
    if (ace_ucb1_cooling(b, now)) return b->committed;
    /* hysteresis: a challenger must beat the arm in force by the margin
     * (an untried arm in force has no mean and yields to any measured one) */
    if (b->count[b->committed]) {
        double margin = b->hysteresis;
        if (b->z > 0 && b->noise_n && b->obs[best] && b->obs[b->committed])
            margin += b->z * ace_sqrt(b->noise_var / b->obs[best] + b->noise_var / b->obs[b->committed]);
        if (ace_ucb1_mean(b, best) <= ace_ucb1_mean(b, b->committed) + margin)
            return b->committed;
    }
    b->committed = best;
    b->last_switch = now;
    b->switched = 1;
    return best;
}
