/* ACE duel: one arm against the arm in force, measured in paired,
 * interleaved slices (docs/ACE.md "The signal").  Pure: no I/O, no clock.
 *
 * The slices run in ABBA blocks (champion, challenger, challenger, champion;
 * the next block mirrored), so a throughput drift that is linear over a block
 * cancels in the block's contrast (challenger − champion).  After each block a
 * sequential test decides: the challenger wins, shows no gain, or the duel
 * goes on.  A win needs the lower end of a confidence sequence above 0 (a
 * bound valid at every block at once, so looking after each block does not
 * inflate the error) and a mean of at least min_effect (an arm a hair better
 * is not worth a switch).  "No gain" may use an ordinary interval: stopping
 * early there only keeps the arm in force.  Every figure is in throughput-equivalent units: a reward
 * difference divided by the reward of one baseline throughput (0.03 = the
 * challenger's reward is worth 3 % more throughput). */
#ifndef HAK_ACE_DUEL_H
#define HAK_ACE_DUEL_H

#include <stdint.h>

enum ace_verdict { ACE_DUEL_RUNNING = 0, ACE_DUEL_WIN, ACE_DUEL_NO_GAIN, ACE_DUEL_ABORT };

typedef struct ace_duel_cfg {
    uint32_t min_blocks;   /* no verdict before this many blocks, except an abort */
    uint32_t max_blocks;   /* no win by then: no gain */
    double   alpha;        /* a win's error over the whole duel, however often it looks */
    double   rho_blocks;   /* the confidence sequence is tightest near this many blocks */
    double   min_effect;   /* a win needs a mean of at least this */
    double   z;            /* the futility interval: mean + z se ... */
    double   futility;     /* ... below this is no gain */
    double   abort;        /* after abort_blocks, a mean below -abort ends the duel */
    uint32_t abort_blocks;
    double   prior_sd;     /* block-contrast noise assumed before it is measured ... */
    double   prior_n;      /* ... worth this many blocks */
} ace_duel_cfg_t;

typedef struct ace_duel {
    int      champ, chal;      /* arm indices */
    uint32_t slice;            /* slices done in the current block, 0..3 */
    double   r[4];             /* the block's slice rewards */
    uint32_t n;                /* blocks done */
    double   sum, sumsq;       /* of block contrasts */
} ace_duel_t;

void   ace_duel_cfg_default(ace_duel_cfg_t *c);
void   ace_duel_start(ace_duel_t *d, int champ, int chal);
/* The arm to hold during the next slice. */
int    ace_duel_arm(const ace_duel_t *d);
/* Score the slice just held: reward r, with `unit` the reward of one baseline
 * throughput.  Returns enum ace_verdict. */
int    ace_duel_slice(ace_duel_t *d, const ace_duel_cfg_t *c, double r, double unit);
double ace_duel_mean(const ace_duel_t *d);                        /* challenger − champion */
double ace_duel_se(const ace_duel_t *d, const ace_duel_cfg_t *c);  /* its standard error */
/* Half-width of the confidence sequence for the mean after d->n blocks. */
double ace_duel_radius(const ace_duel_t *d, const ace_duel_cfg_t *c);

#endif
