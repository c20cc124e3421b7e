/* Discounted UCB1 over a knob's discrete candidates (docs/ACE.md).  Pure: no
 * I/O, no allocation.
 *
 * An arm's value is what the duels measured for it (hakmem_ace_duel.h): its
 * advantage over the group's static arm, in throughput-equivalent units.
 * Each new result first multiplies every arm's sum and count by gamma, so a
 * result 14 duels old weighs half (0.95^14) and a program that changed phase
 * is judged by what it does now.  ace_ucb1_select picks the next
 * challenger among the arms a mask allows (the neighbours of the arm in
 * force): every such arm once, nearest to the arm in force first, then argmax
 * mean + c * sqrt(2 ln N / n) over the discounted counts. */
#ifndef HAK_ACE_UCB1_H
#define HAK_ACE_UCB1_H

#include <stdint.h>

#define ACE_UCB1_MAX_ARMS 8

typedef struct ace_ucb1 {
    uint32_t n_arms;
    double   sum[ACE_UCB1_MAX_ARMS];
    double   count[ACE_UCB1_MAX_ARMS];   /* discounted; 0: never tried */
    double   total;
    int      committed;        /* arm in force outside a duel */
    double   c;                /* exploration constant */
    double   gamma;            /* discount per result, (0, 1]; 1: plain UCB1 */
} ace_ucb1_t;

void   ace_ucb1_init(ace_ucb1_t *b, uint32_t n_arms, int initial_arm, double c, double gamma);
/* Next arm to try among the arms whose bit is set in mask; -1 if none. */
int    ace_ucb1_select(const ace_ucb1_t *b, uint32_t mask);
void   ace_ucb1_update(ace_ucb1_t *b, int arm, double value);
double ace_ucb1_mean(const ace_ucb1_t *b, int arm);    /* 0 if untried */

/* No libm: the library links with -pthread only. */
double ace_sqrt(double x);
double ace_ln(double x);                               /* x >= 1 */

#endif
