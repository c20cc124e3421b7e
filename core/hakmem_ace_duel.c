/* ACE duel: paired ABBA slices and a sequential test.  See hakmem_ace_duel.h. */
#include "hakmem_ace_duel.h"
#include "hakmem_ace_ucb1.h"
#include <string.h>

/* Measured on this 2-core VM (docs/ACE.md "The signal"): the contrast of one
 * ABBA block of 20–50 ms slices has a spread of 8–11 % of throughput on
 * larson, mid_mt1 and mid_mt16 (a compute loop: 1.8 %), whatever the slice
 * length, so short slices and many blocks buy precision.  At most 64 blocks
 * of 20 ms slices (5 s); at that noise an equal arm wins under alpha of its
 * duels and a 10 % better one most (tests/ace unit `duel`). */
void ace_duel_cfg_default(ace_duel_cfg_t *c)
{
    c->min_blocks = 4;
    c->max_blocks = 64;
    c->alpha = 0.05;
    c->rho_blocks = 16;      /* tightest around 1.3 s of duel, where most verdicts fall */
    c->min_effect = 0.02;
    c->z = 2.0;
    c->futility = 0.025;     /* a challenger that cannot be 2.5 % better is not worth more slices */
    c->abort = 0.15;         /* clearly worse: 2 blocks (8 slices) are enough */
    c->abort_blocks = 2;
    c->prior_sd = 0.09;
    c->prior_n = 2;
}

void ace_duel_start(ace_duel_t *d, int champ, int chal)
{
    memset(d, 0, sizeof *d);
    d->champ = champ;
    d->chal = chal;
}

/* Blocks alternate ABBA and BAAB, so consecutive blocks meet on the same arm
 * and every block has two switches. */
static int slice_is_chal(const ace_duel_t *d)
{
    int inner = d->slice == 1 || d->slice == 2;
    return (d->n & 1) ? !inner : inner;
}

int ace_duel_arm(const ace_duel_t *d) { return slice_is_chal(d) ? d->chal : d->champ; }

double ace_duel_mean(const ace_duel_t *d) { return d->n ? d->sum / d->n : 0; }

double ace_duel_se(const ace_duel_t *d, const ace_duel_cfg_t *c)
{
    double m = ace_duel_mean(d);
    double ss = d->n ? d->sumsq - d->n * m * m : 0;
    /* the prior keeps a lucky quiet start from deciding on two blocks */
    double var = (ss + c->prior_n * c->prior_sd * c->prior_sd) / ((d->n > 1 ? d->n - 1 : 0) + c->prior_n);
    return d->n ? ace_sqrt(var / d->n) : 1e9;
}

/* The normal-mixture boundary (Robbins; Howard et al. 2021, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences"): with V = n sd^2 and
 * rho = rho_blocks sd^2, |sum| < sqrt((V + rho)(ln((V + rho) / rho) + 2 ln(1/alpha)))
 * at every n with probability 1 - alpha.  The spread is estimated with the
 * prior, so a quiet start cannot shrink it. */
double ace_duel_radius(const ace_duel_t *d, const ace_duel_cfg_t *c)
{
    if (!d->n) return 1e9;
    double se = ace_duel_se(d, c), var = se * se * d->n;
    double v = d->n * var, rho = c->rho_blocks * var;
    return ace_sqrt((v + rho) * (ace_ln((v + rho) / rho) + 2 * ace_ln(1 / c->alpha))) / d->n;
}

int ace_duel_slice(ace_duel_t *d, const ace_duel_cfg_t *c, double r, double unit)
{
    double m, se, contrast;
    d->r[d->slice] = r;
    if (++d->slice < 4) return ACE_DUEL_RUNNING;
    d->slice = 0;
    contrast = (d->r[1] + d->r[2] - d->r[0] - d->r[3]) / 2 / (unit > 0 ? unit : 1);
    if (d->n & 1) contrast = -contrast;
    d->n++;
    d->sum += contrast;
    d->sumsq += contrast * contrast;
    m = ace_duel_mean(d);
    if (d->n >= c->abort_blocks && d->n < c->min_blocks && m < -c->abort) return ACE_DUEL_ABORT;
    if (d->n < c->min_blocks) return ACE_DUEL_RUNNING;
    se = ace_duel_se(d, c);
    if (m >= c->min_effect && m - ace_duel_radius(d, c) > 0) return ACE_DUEL_WIN;
    if (m + c->z * se < c->futility || d->n >= c->max_blocks) return ACE_DUEL_NO_GAIN;
    return ACE_DUEL_RUNNING;
}
