/* Budgeted release passes on top of the core's hak_release_* (hakmem_release.h).
 *
 * The budget is ACE's own CPU time, the cost the CPU valve watches.  The
 * core's release loops stop at a wall-clock deadline, so a pass runs as wall
 * slices, each given the CPU budget still unused: on a quiet machine that is
 * one slice; when ACE's thread is preempted (a loaded machine) the slice ends
 * with budget left and the pass goes on, so the same work gets done.  A wall
 * cap of 4 x the budget bounds a pass whatever the load. */
#include "hakmem_ace_scavenge.h"
#include "hakmem_ace_metrics.h"
#include "hakmem_release.h"
#include <string.h>

#define WALL_CAP 4

typedef struct { uint64_t t0, c0, wall_end, budget; } pass_clock_t;

static void pass_begin(pass_clock_t *pc, uint64_t budget_ns)
{
    pc->t0 = hak_now_ns();
    pc->c0 = hak_os_thread_cpu_ns();
    pc->wall_end = pc->t0 + WALL_CAP * budget_ns;
    pc->budget = budget_ns;
}

/* Deadline of the next slice, 0 when the budget or the wall cap is spent. */
static uint64_t pass_slice(const pass_clock_t *pc)
{
    uint64_t now = hak_now_ns(), used = hak_os_thread_cpu_ns() - pc->c0;
    if (used >= pc->budget || now >= pc->wall_end) return 0;
    uint64_t d = now + (pc->budget - used);
    return d < pc->wall_end ? d : pc->wall_end;
}

static void pass_end(const pass_clock_t *pc, int complete, ace_scavenge_result_t *r)
{
    r->elapsed_ns = hak_now_ns() - pc->t0;
    r->cpu_ns = hak_os_thread_cpu_ns() - pc->c0;
    r->hit_deadline = !complete;
}

/* Slices of hak_release_partial until one walks everything before its deadline. */
static int partial_slices(const pass_clock_t *pc, uint32_t pages_per_span, ace_scavenge_result_t *r)
{
    uint64_t d;
    while ((d = pass_slice(pc))) {
        r->pages_partial += hak_release_partial(pages_per_span ? pages_per_span : 1, d);
        if (hak_now_ns() < d) return 1;
    }
    return 0;
}

void ace_scavenge_partial(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r)
{
    pass_clock_t pc;
    memset(r, 0, sizeof *r);
    pass_begin(&pc, budget_ns);
    pass_end(&pc, partial_slices(&pc, pages_per_span, r), r);
}

void ace_scavenge_budgeted(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r)
{
    pass_clock_t pc;
    uint64_t d;
    int empty_done = 0;
    memset(r, 0, sizeof *r);
    pass_begin(&pc, budget_ns);
    while (!empty_done && (d = pass_slice(&pc))) {
        r->pages_empty += hak_release_empty(d);
        empty_done = hak_now_ns() < d;
    }
    pass_end(&pc, empty_done && partial_slices(&pc, pages_per_span, r), r);
}
