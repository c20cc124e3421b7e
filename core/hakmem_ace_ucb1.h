/* UCB1 over a knob's discrete candidates (DESIGN.md §2), with hysteresis and a
 * cooldown on the arm that is actually in force.  Pure: no I/O, no allocation.
 *
 * Exploration (ace_ucb1_select) is UCB1: every arm once (nearest to the arm
 * in force first), then argmax mean + c * sqrt(2 ln N / n).  Exploitation
 * (ace_ucb1_commit) keeps the committed arm unless another arm's mean beats it
 * by more than `hysteresis`, and never changes it twice within `cooldown`
 * ticks. */
#ifndef HAK_ACE_UCB1_H
#define HAK_ACE_UCB1_H

#include <stdint.h>

#define ACE_UCB1_MAX_ARMS 8

typedef struct ace_ucb1 {
    uint32_t n_arms;
    double   sum[ACE_UCB1_MAX_ARMS];
    uint32_t count[ACE_UCB1_MAX_ARMS];
    uint32_t total;
    int      committed;        /* arm in force outside exploration */
    double   c;                /* exploration constant */
    double   hysteresis;       /* margin a challenger's mean must exceed */
    uint32_t cooldown;         /* ticks between two changes of the committed arm */
    uint64_t last_switch;      /* tick of the last change of the committed arm */
    int      switched;         /* committed arm has changed at least once */
    uint32_t skip;             /* arms ruled out without a try (bit per arm) */
    /* noise: a challenger must also beat the arm in force by z standard
     * errors of the difference of their means (0 = hysteresis only) */
    double   z;
    double   noise_var;        /* pooled variance of one observation (one tick) */
    uint32_t noise_n;          /* pulls pooled into noise_var */
    uint32_t obs[ACE_UCB1_MAX_ARMS];   /* observations (ticks) behind each arm's mean */
} ace_ucb1_t;

void   ace_ucb1_init(ace_ucb1_t *b, uint32_t n_arms, int initial_arm,
                     double c, double hysteresis, uint32_t cooldown);
int    ace_ucb1_select(const ace_ucb1_t *b);           /* next arm to try */
void   ace_ucb1_update(ace_ucb1_t *b, int arm, double reward);
double ace_ucb1_mean(const ace_ucb1_t *b, int arm);    /* 0 if untried */
int    ace_ucb1_best(const ace_ucb1_t *b);             /* best tried mean; committed if none */
/* Decide the arm in force at tick `now` (hysteresis + cooldown); returns it. */
int    ace_ucb1_commit(ace_ucb1_t *b, uint64_t now);
/* 1 while a recent change of the committed arm is cooling down. */
int    ace_ucb1_cooling(const ace_ucb1_t *b, uint64_t now);
/* Every arm tried at least once (or ruled out). */
int    ace_ucb1_all_tried(const ace_ucb1_t *b);
/* A pull's spread: its n observations (ticks) had sample variance s2. */
void   ace_ucb1_observe(ace_ucb1_t *b, int arm, uint32_t n, double s2);
/* Rule out the untried arms beyond `arm` in direction dir (+1: higher
 * indices, -1: lower): for an ordered knob whose reward has one peak, arms
 * past one that is clearly worse than the best are worse still. */
void   ace_ucb1_skip_beyond(ace_ucb1_t *b, int arm, int dir);

#endif
