/* ACE's memory rules.  See hakmem_ace_memory.h and docs/ACE.md. */
#include "hakmem_ace_memory.h"
#include "hakmem_options.h"
#include <string.h>

/* From keeping every free page of a partly used span to giving most back.
 * Step 2 is the defaults; step 1 releases only from spans at most a quarter
 * used (mid_mt: +15 % throughput for +6 % peak RSS, hakmem_segment.h) and
 * only while a class shrinks by more than 256 blocks a period. */
const ace_release_step_t ace_ladder[ACE_LADDER_N] = {
    { 0, HAK_DEF_SPARSE_BLOCK_DIV, HAK_DEF_SHRINK_MIN },   /* keep pages */
    { 1, 4, 256 },
    { HAK_DEF_PARTIAL_RELEASE_PAGES, HAK_DEF_SPARSE_BLOCK_DIV, HAK_DEF_SHRINK_MIN },
    { 4, 2, 16 },
    { 8, 1, 0 },
};
/* large_replace: 64 -> 128 MiB took it from 0.71 to 0.53 s for +29 MiB peak */
const uint32_t ace_cand_large_mb[ACE_BOUND_N] = { 16, 32, 64, 128, 256, 512, 1024 };

void ace_mem_cfg_default(ace_mem_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->price = HAK_DEF_ACE_MEM_PRICE;
    c->release_min_pages = 256;
    c->clear_loss = 4;
    c->ghost_min = 2;
    c->hold_min_ns = 10000000ull;
    c->hold_max_ns = 60000000000ull;
    c->probe_pages = 64;
}

static uint32_t dist(uint32_t a, uint32_t b) { return a > b ? a - b : b - a; }

/* the step whose partial release pages are nearest the static value */
static int ladder_index(uint32_t pages)
{
    int best = 0;
    for (int i = 1; i < ACE_LADDER_N; i++)
        if (dist(ace_ladder[i].pages, pages) < dist(ace_ladder[best].pages, pages)) best = i;
    return best;
}

void ace_mem_init(ace_mem_state_t *s, const hak_knobs_t *stat)
{
    memset(s, 0, sizeof *s);
    s->level = s->static_level = ladder_index(stat->partial_release_pages);
    s->static_bound = -1;
    for (int i = 0; i < ACE_BOUND_N; i++)
        if (ace_cand_large_mb[i] == stat->large_cache_mb) s->static_bound = i;
    s->bound = s->static_bound;
    s->hold_ns = s->static_hold_ns = (uint64_t)stat->hold_ms * 1000000ull;
}

double ace_mem_lambda(const ace_mem_cfg_t *c) { return c->price / 1024.0; }

double ace_mem_j(const ace_mem_cfg_t *c, double cpu_s, double mib_s) { return cpu_s + ace_mem_lambda(c) * mib_s; }

uint64_t ace_mem_hold_ns(const ace_mem_cfg_t *c, double cost_ns)
{
    /* lambda per page-second: a 4 KiB page is 1/256 MiB */
    double per_page = ace_mem_lambda(c) / 256.0, h;
    if (per_page <= 0) return c->hold_max_ns;
    h = cost_ns / per_page;                  /* ns of CPU / (CPU-s per s) = ns of holding */
    if (h < (double)c->hold_min_ns) return c->hold_min_ns;
    if (h > (double)c->hold_max_ns) return c->hold_max_ns;
    return (uint64_t)h;
}

/* The costs per page: the release from ACE's own release passes (their CPU
 * time, averaged over passes that gave back enough to tell; they are the
 * releases the hold time schedules), the probe's until then; the fault from
 * the probe (the allocator cannot time a fault in a program's store).  CPU,
 * not wall time: the core's madvise counters (madvise_ns) are wall time,
 * which on a loaded machine includes preemption (4.7-8.8 us a page measured
 * on phased_mid and thread_swing, against 0.3 us of CPU in a pass). */
static void costs(const ace_metrics_t *m, ace_mem_state_t *s)
{
    if (m->probe_fault_ns) s->c_fault_ns = (double)m->probe_fault_ns;
    if (m->release_ns_page) s->c_release_ns = s->c_release_ns ? 0.75 * s->c_release_ns + 0.25 * (double)m->release_ns_page
                                                              : (double)m->release_ns_page;
    else if (!s->c_release_ns) s->c_release_ns = (double)m->probe_release_ns;
}

/* Re-faults and release cost -> release step.  What the pages given back in
 * a tick cost: the core's madvise time (wall: on a busy multi-threaded
 * program each call also interrupts the other threads' CPUs to flush their
 * TLBs, CPU that ACE's own passes, made while the program sleeps, never see:
 * thread_swing at the defaults, 13.9 k pages in 5.9 k calls took 103 ms,
 * and keeping pages saved 0.13 CPU-s) plus a fault for each page handed out
 * again within the hold time.  What they save: each page not reused was
 * free for at least the hold time, worth lambda_page x H (a lower bound: the
 * idle scavenge would give it back later anyway).  Cost above value on
 * trigger_ticks ticks with at least release_min_pages released, or above
 * clear_loss x value on one (a measured loss, not a noisy throughput: a
 * phase of seconds is over before two ticks of waiting end): one step toward
 * keeping pages, then one more each tick it stays so.  A whole slow
 * interval without a trigger: one step back toward the static step (also
 * down, after a spell above the target). */
static int release_rule(const ace_metrics_t *m, const ace_mem_cfg_t *c, ace_mem_state_t *s, uint32_t trig,
                        uint64_t last_slow_tick, uint64_t tick)
{
    uint64_t kept = m->pages_released > m->pages_reused ? m->pages_released - m->pages_reused : 0;
    s->cost_ns = (double)m->madvise_ns + (double)m->pages_reused * s->c_fault_ns;
    s->value_ns = (double)kept * ace_mem_lambda(c) / 256.0 * (double)s->hold_ns;
    if (m->pages_released >= c->release_min_pages && s->cost_ns > s->value_ns)
        s->release_run++;
    else
        s->release_run = 0;
    if ((s->release_run >= trig || (s->release_run && s->cost_ns > c->clear_loss * s->value_ns)) && s->level > 0) {
        s->level--;
        s->release_run = trig - 1;
        s->release_trigger = tick;
        return ACE_MEM_RULE;
    }
    if (m->slow && s->level != s->static_level && s->release_trigger <= last_slow_tick) {
        s->level += s->level < s->static_level ? 1 : -1;
        return ACE_MEM_RESTORE;
    }
    return ACE_MEM_NONE;
}

/* Ghost hits -> Large bound one candidate up; one step back toward the
 * static bound per slow interval without them.  Not above the target. */
static int ghost_rule(const ace_metrics_t *m, const ace_mem_cfg_t *c, ace_mem_state_t *s, uint32_t trig,
                      uint64_t last_slow_tick, uint64_t tick)
{
    if (s->static_bound < 0) return ACE_MEM_NONE;       /* a bound given off the candidates stays as given */
    if (m->ghost_hits >= c->ghost_min) s->ghost_run++;
    else s->ghost_run = 0;
    if (s->ghost_run >= trig && s->bound + 1 < ACE_BOUND_N && !s->above_target) {
        s->bound++;
        s->ghost_run = 0;
        s->ghost_trigger = tick;
        return ACE_MEM_RULE;
    }
    if (m->slow && s->bound != s->static_bound && s->ghost_trigger <= last_slow_tick) {
        s->bound += s->bound < s->static_bound ? 1 : -1;
        return ACE_MEM_RESTORE;
    }
    return ACE_MEM_NONE;
}

/* Idle for the hold time (or HAKMEM_ACE_IDLE_SCAVENGE_MS): a page held longer
 * costs more than faulting it in again when the program wakes. */
static int idle_due(const ace_metrics_t *m, const ace_mem_cfg_t *c, ace_mem_state_t *s, int idle)
{
    uint64_t delay = c->idle_delay_fixed ? c->idle_delay_ns : s->hold_ns;
    if (!idle) { s->idle_since_ns = 0; return 0; }
    if (!s->idle_since_ns) s->idle_since_ns = m->t_ns - m->dt_ns;   /* the whole tick was idle */
    return m->t_ns - s->idle_since_ns + m->dt_ns / 2 >= delay;       /* the tick nearest the delay */
}

void ace_mem_tick(const ace_metrics_t *m, const ace_mem_cfg_t *c, ace_mem_state_t *s, int idle,
                  uint32_t trig, uint64_t last_slow_tick, uint64_t tick, ace_mem_out_t *o)
{
    double dt = (double)m->dt_ns / 1e9;
    o->level_reason = o->bound_reason = ACE_MEM_NONE;
    o->scav_target = 0;
    s->cpu_s += (double)m->proc_cpu_ns / 1e9;
    s->mib_s += (double)m->rss_bytes / 1048576.0 * dt;
    s->slow_cpu_s += (double)m->proc_cpu_ns / 1e9;
    s->slow_mib_s += (double)m->rss_bytes / 1048576.0 * dt;
    costs(m, s);
    /* until the probe has measured, the static hold time */
    s->hold_ns = s->c_fault_ns > 0 ? ace_mem_hold_ns(c, s->c_release_ns + s->c_fault_ns) : s->static_hold_ns;
    s->above_target = c->rss_target_bytes && m->rss_bytes > c->rss_target_bytes;
    if (s->above_target) {
        /* release harder: the most eager step and the smallest bound now,
         * nothing held for later reuse, and a scavenge every tick */
        if (s->level != ACE_LADDER_N - 1) { s->level = ACE_LADDER_N - 1; o->level_reason = ACE_MEM_TARGET; }
        if (s->static_bound >= 0 && s->bound != 0) { s->bound = 0; o->bound_reason = ACE_MEM_TARGET; }
        s->hold_ns = c->hold_min_ns;
        o->scav_target = 1;
    } else if (!idle) {
        o->level_reason = release_rule(m, c, s, trig, last_slow_tick, tick);
        o->bound_reason = ghost_rule(m, c, s, trig, last_slow_tick, tick);
    }
    o->idle_due = idle_due(m, c, s, idle);
}

static uint32_t at_step(const ace_mem_state_t *s, uint32_t stat, uint32_t step_value)
{
    return s->level == s->static_level ? stat : step_value;
}

uint32_t ace_mem_partial(const ace_mem_state_t *s, const hak_knobs_t *k)
{
    return at_step(s, k->partial_release_pages, ace_ladder[s->level].pages);
}
uint32_t ace_mem_sparse_div(const ace_mem_state_t *s, const hak_knobs_t *k)
{
    return at_step(s, k->sparse_div, ace_ladder[s->level].sparse_div);
}
uint32_t ace_mem_shrink_min(const ace_mem_state_t *s, const hak_knobs_t *k)
{
    return at_step(s, k->shrink_min, ace_ladder[s->level].shrink_min);
}
uint32_t ace_mem_large_mb(const ace_mem_state_t *s, const hak_knobs_t *k)
{
    return s->bound < 0 || s->bound == s->static_bound ? k->large_cache_mb : ace_cand_large_mb[s->bound];
}
uint32_t ace_mem_hold_ms(const ace_mem_state_t *s) { return (uint32_t)((s->hold_ns + 500000) / 1000000); }
