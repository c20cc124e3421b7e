/* ACE's release actions (slow loop): partial release and the budgeted
 * scavenge, each bounded by a budget of ACE's own CPU time (and a wall cap
 * of 4 x that) and timed (docs/ACE.md). */
#ifndef HAK_ACE_SCAVENGE_H
#define HAK_ACE_SCAVENGE_H

#include <stdint.h>
#include <stddef.h>

typedef struct ace_scavenge_result {
    size_t   pages_empty;     /* 4 KiB pages from whole empty spans / cached large mappings */
    size_t   pages_partial;   /* 4 KiB pages from inside partly used spans */
    uint64_t elapsed_ns;      /* wall time of the pass */
    uint64_t cpu_ns;          /* ACE thread CPU time of the pass */
    int      hit_deadline;    /* the pass stopped at its budget before walking everything */
} ace_scavenge_result_t;

/* Fragmentation up: release up to pages_per_span free pages in each partly
 * used span, for at most budget_ns of CPU time. */
void ace_scavenge_partial(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r);

/* RSS up / idle: empty spans first, then partial release with what is left of
 * the same budget_ns. */
void ace_scavenge_budgeted(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r);

#endif
