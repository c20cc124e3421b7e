/* UCB1 over neighbouring arms.  See hakmem_ace_ucb1.h. */
#include "hakmem_ace_ucb1.h"
#include <string.h>

double ace_sqrt(double x)
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
double ace_ln(double x)
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

void ace_ucb1_init(ace_ucb1_t *b, uint32_t n_arms, int initial_arm, double c, double gamma)
{
    memset(b, 0, sizeof *b);
    if (n_arms > ACE_UCB1_MAX_ARMS) n_arms = ACE_UCB1_MAX_ARMS;
    if (n_arms == 0) n_arms = 1;
    b->n_arms = n_arms;
    if (initial_arm < 0) initial_arm = 0;
    if ((uint32_t)initial_arm >= n_arms) initial_arm = (int)n_arms - 1;
    b->committed = initial_arm;
    b->c = c;
    b->gamma = gamma > 0 && gamma <= 1 ? gamma : 1;
}

double ace_ucb1_mean(const ace_ucb1_t *b, int arm)
{
    return b->count[arm] > 0 ? b->sum[arm] / b->count[arm] : 0.0;
}

int ace_ucb1_select(const ace_ucb1_t *b, uint32_t mask)
{
    uint32_t i;
    int d, best = -1;
    double bv = -1e300, lnN;
    /* untried arms first, nearest to the arm in force first (one step down,
     * then one step up, ...) */
    for (d = 0; d < (int)b->n_arms; d++) {
        int lo = b->committed - d, hi = b->committed + d;
        if (lo >= 0 && !b->count[lo] && (mask & (1u << lo))) return lo;
        if (hi < (int)b->n_arms && !b->count[hi] && (mask & (1u << hi))) return hi;
    }
    lnN = ace_ln(b->total > 1 ? b->total : 1);
    for (i = 0; i < b->n_arms; i++) {
        if (!(mask & (1u << i))) continue;
        double v = ace_ucb1_mean(b, (int)i) + b->c * ace_sqrt(2.0 * lnN / b->count[i]);
        if (v > bv) { bv = v; best = (int)i; }
    }
    return best;
}

void ace_ucb1_update(ace_ucb1_t *b, int arm, double value)
{
    if (arm < 0 || (uint32_t)arm >= b->n_arms) return;
    for (uint32_t i = 0; i < b->n_arms; i++) {
        b->sum[i] *= b->gamma;
        b->count[i] *= b->gamma;
    }
    b->total = b->total * b->gamma + 1;
    b->sum[arm] += value;
    b->count[arm] += 1;
}
