/* Budgeted release passes on top of the core's hak_release_* (hakmem_release.h). */
#include "hakmem_ace_scavenge.h"
#include "hakmem_release.h"
#include <string.h>

void ace_scavenge_partial(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r)
{
    uint64_t t0 = hak_now_ns(), deadline = t0 + budget_ns, t1;
    memset(r, 0, sizeof *r);
    r->pages_partial = hak_release_partial(pages_per_span ? pages_per_span : 1, deadline);
    t1 = hak_now_ns();
    r->elapsed_ns = t1 - t0;
    r->hit_deadline = t1 >= deadline;
}

void ace_scavenge_budgeted(uint32_t pages_per_span, uint64_t budget_ns, ace_scavenge_result_t *r)
{
    uint64_t t0 = hak_now_ns(), deadline = t0 + budget_ns, t1;
    memset(r, 0, sizeof *r);
    r->pages_empty = hak_release_empty(deadline);
    if (hak_now_ns() < deadline)
        r->pages_partial = hak_release_partial(pages_per_span ? pages_per_span : 1, deadline);
    t1 = hak_now_ns();
    r->elapsed_ns = t1 - t0;
    r->hit_deadline = t1 >= deadline;
}
