/* ACE metrics collection (observe).  The OS contact (clocks, /proc, sysfs,
 * perf counters) is hakmem_os.c's.  See hakmem_ace_metrics.h and docs/ACE.md. */
#include "hakmem_ace_metrics.h"
#include "hakmem_release.h"
#include "hakmem.h"

#include "hakmem_os.h"

#include <string.h>

/* ----------------------------------------------------------- percentile */
uint64_t ace_percentile(const uint64_t *v, uint32_t n, uint64_t *s, int pct)
{
    static const uint32_t gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
    uint32_t gi, i, j, idx;
    if (n == 0) return 0;
    memcpy(s, v, n * sizeof *s);
    for (gi = 0; gi < sizeof gaps / sizeof gaps[0]; gi++) {
        uint32_t g = gaps[gi];
        for (i = g; i < n; i++) {
            uint64_t t = s[i];
            for (j = i; j >= g && s[j - g] > t; j -= g) s[j] = s[j - g];
            s[j] = t;
        }
    }
    idx = (uint32_t)(((uint64_t)(n - 1) * (uint64_t)pct + 50) / 100);
    return s[idx];
}

/* ------------------------------------------------------------ perf */
/* Try once on the ACE thread; on failure the proxy is used for good. */
static void perf_try(ace_collector_t *c)
{
    int fd = hak_os_perf_open(0, HAK_OS_PERF_LLC_MISSES);
    if (fd < 0) { c->perf_state = -1; c->perf_errno = -fd; return; }
    hak_os_close(fd);
    c->perf_state = 1;
}

/* One thread of the process: open its counter pair unless already open. */
static int perf_add_task(int tid, void *arg)
{
    ace_collector_t *c = arg;
    int k, fm, fr;
    if (c->perf_n >= 64) return 1;
    for (k = 0; k < c->perf_n; k++) if (c->perf_tid[k] == tid) return 0;
    fm = hak_os_perf_open(tid, HAK_OS_PERF_LLC_MISSES);
    fr = fm >= 0 ? hak_os_perf_open(tid, HAK_OS_PERF_LLC_REFS) : -1;
    if (fm >= 0 && fr >= 0) {
        c->perf_tid[c->perf_n] = tid;
        c->perf_fd_miss[c->perf_n] = fm;
        c->perf_fd_ref[c->perf_n] = fr;
        c->perf_n++;
    } else if (fm >= 0) {
        hak_os_close(fm);
    }
    return 0;
}

/* Counters are per thread (a process-wide count needs one per thread:
 * inherit only covers threads created after the counter, and ACE starts late).
 * Each tick opens counters for threads not yet seen (up to 64). */
static void perf_scan(ace_collector_t *c) { hak_os_foreach_task(perf_add_task, c); }

static int perf_read_sum(ace_collector_t *c, uint64_t *miss, uint64_t *ref)
{
    int k;
    uint64_t m = 0, r = 0, v;
    for (k = 0; k < c->perf_n; k++) {
        if (hak_os_perf_read(c->perf_fd_miss[k], &v)) m += v;
        if (hak_os_perf_read(c->perf_fd_ref[k], &v)) r += v;
    }
    *miss = m; *ref = r;
    return c->perf_n > 0;
}

void ace_collector_close(ace_collector_t *c)
{
    int k;
    for (k = 0; k < c->perf_n; k++) { hak_os_close(c->perf_fd_miss[k]); hak_os_close(c->perf_fd_ref[k]); }
    c->perf_n = 0;
}

/* --------------------------------------------------------- latency */
/* Per-operation timer: rdtscp (serialising against earlier instructions, a few
 * ns) converted with a TSC rate calibrated against CLOCK_MONOTONIC; elsewhere,
 * or if calibration fails, clock_gettime.  The timer's own cost (median of
 * back-to-back reads) is subtracted from every sample. */
#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t ace_tsc(void)
{
    unsigned lo, hi, aux;
    __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}
#define ACE_HAVE_TSC 1
#else
#define ACE_HAVE_TSC 0
static inline uint64_t ace_tsc(void) { return 0; }
#endif

static inline uint64_t lat_now(const ace_collector_t *c)
{
    return c->tsc_per_ns > 0 ? ace_tsc() : hak_now_ns();
}

/* A timed interval of `batch` operations (timer units, timer cost included)
 * -> ns per operation, rounded. */
static uint64_t lat_to_ns(const ace_collector_t *c, uint64_t d, int batch)
{
    d = d > c->timer_cost ? d - c->timer_cost : 0;
    double ns = c->tsc_per_ns > 0 ? (double)d / c->tsc_per_ns : (double)d;
    return (uint64_t)(ns / batch + 0.5);
}

static void calibrate_timer(ace_collector_t *c)
{
    uint64_t d[63], s[63];
    int i;
    c->tsc_per_ns = 0;
    if (ACE_HAVE_TSC) {
        uint64_t t0 = hak_now_ns(), c0 = ace_tsc(), t1, c1;
        hak_os_sleep_until(t0 + 5000000);
        t1 = hak_now_ns();
        c1 = ace_tsc();
        if (t1 > t0 && c1 > c0) c->tsc_per_ns = (double)(c1 - c0) / (double)(t1 - t0);
    }
    for (i = 0; i < 63; i++) {
        uint64_t a = lat_now(c);
        uint64_t b = lat_now(c);
        d[i] = b - a;
    }
    c->timer_cost = ace_percentile(d, 63, s, 50);
    c->timer_cost_ns = c->tsc_per_ns > 0 ? (uint64_t)((double)c->timer_cost / c->tsc_per_ns + 0.5) : c->timer_cost;
}

/* the last `cap` samples, oldest overwritten */
static void ring_push(uint64_t *ring, uint32_t *pos, uint32_t *n, uint32_t cap, uint64_t v)
{
    ring[*pos] = v;
    *pos = (*pos + 1) % cap;
    if (*n < cap) (*n)++;
}

static void lat_push(ace_collector_t *c, uint64_t v) { ring_push(c->lat, &c->lat_pos, &c->lat_n, ACE_LAT_WINDOW, v); }
static void med_push(ace_collector_t *c, uint64_t v) { ring_push(c->med, &c->med_pos, &c->med_n, ACE_MED_WINDOW, v); }

/* Two bursts of `batch` mallocs then `batch` frees of one size:
 *  - the first times every operation on its own: the tail (p99) window;
 *    refills and flushes (the slow paths the knobs govern) land here, since
 *    the burst is longer than small magazines;
 *  - the second times each half-burst as one batch and divides: the median
 *    (p50) window.  A fast-path operation is shorter than the timer's
 *    resolution here (rdtscp ticks in steps of ~10 ns in this VM), so only a
 *    batch mean resolves it. */
static void sample_size(ace_collector_t *c, size_t size, int batch)
{
    void *p[32];
    int i;
    uint64_t t0, t1, t2;
    for (i = 0; i < batch; i++) {
        t0 = lat_now(c);
        p[i] = hak_malloc(size);
        t1 = lat_now(c);
        lat_push(c, lat_to_ns(c, t1 - t0, 1));
        if (p[i]) *(volatile char *)p[i] = 1;
    }
    for (i = batch - 1; i >= 0; i--) {
        t0 = lat_now(c);
        hak_free(p[i]);
        t1 = lat_now(c);
        lat_push(c, lat_to_ns(c, t1 - t0, 1));
    }
    t0 = lat_now(c);
    for (i = 0; i < batch; i++) p[i] = hak_malloc(size);
    t1 = lat_now(c);
    for (i = batch - 1; i >= 0; i--) hak_free(p[i]);
    t2 = lat_now(c);
    med_push(c, lat_to_ns(c, t1 - t0, batch));
    med_push(c, lat_to_ns(c, t2 - t1, batch));
    c->own_ops += 4u * (uint64_t)batch;
}

/* ---------------------------------------------------------- collector */
void ace_collector_init(ace_collector_t *c)
{
    memset(c, 0, sizeof *c);
    c->llc_bytes = hak_os_llc_bytes();
    calibrate_timer(c);
    c->cpu_percent = -1;
    c->probe_pages = 64;
    perf_try(c);
}

void ace_collector_note_scavenge(ace_collector_t *c, uint64_t pages, uint64_t cpu_ns, int hit_deadline)
{
    c->scav_pages = pages;
    c->scav_cpu_ns = cpu_ns;
    c->scav_ran = 1;
    c->scav_hit = hit_deadline;
}

/* Per-class counter deltas: allocations, remote frees, throughput (ACE's own
 * sampling left out), backlog, and the bytes cycled (for the LLC proxy). */
static uint64_t collect_classes(ace_collector_t *c, const hak_snapshot_t *s, ace_metrics_t *m, int top[2])
{
    uint64_t ops = 0, churn = 0, bytes = 0;
    top[0] = top[1] = -1;
    for (int k = 0; k < HAK_NCLASS; k++) {
        uint64_t a = 0, f = 0;
        if (c->have_prev) {
            a = s->sum.allocs[k] - c->prev.sum.allocs[k];
            f = s->sum.frees[k] - c->prev.sum.frees[k];
            m->remote[k] = s->sum.cls[k].remote_frees - c->prev.sum.cls[k].remote_frees;
        }
        m->allocs[k] = a;
        ops += a + f;
        churn += (a + f) * (uint64_t)hak_class_size[k];
        bytes += a * (uint64_t)hak_class_size[k];
        m->backlog[k] = s->backlog[k];
        m->backlog_total += s->backlog[k];
        if (top[0] < 0 || a > m->allocs[top[0]]) { top[1] = top[0]; top[0] = k; }
        else if (top[1] < 0 || a > m->allocs[top[1]]) top[1] = k;
    }
    if (c->have_prev) {
        ops += (s->sum.large_allocs - c->prev.sum.large_allocs) + (s->sum.large_frees - c->prev.sum.large_frees);
        ops = ops > c->own_ops ? ops - c->own_ops : 0;
        bytes += s->sum.large_alloc_bytes - c->prev.sum.large_alloc_bytes;
    }
    c->own_ops = 0;
    m->ops = ops;
    m->ops_per_s = m->dt_ns ? (double)ops * 1e9 / (double)m->dt_ns : 0;
    m->alloc_bytes_per_s = m->dt_ns ? (double)bytes * 1e9 / (double)m->dt_ns : 0;
    return churn;
}

/* Lock wait (fraction of the active threads' time) and the heap gauges. */
static void collect_gauges(const ace_collector_t *c, const hak_snapshot_t *s, ace_metrics_t *m)
{
    uint64_t lw = c->have_prev ? s->sum.lock_wait_ns - c->prev.sum.lock_wait_ns : 0;
    m->lock_wait_ns = lw;
    if (m->dt_ns) {
        double denom = (double)m->dt_ns * (double)(s->threads ? s->threads : 1);
        m->lock_wait_frac = (double)lw / denom;
        if (m->lock_wait_frac > 1) m->lock_wait_frac = 1;
    }
    m->bytes_held = s->bytes_held;
    m->bytes_live = s->bytes_live;
    m->released_bytes = s->released_bytes;
    m->partial_spans = s->partial_spans;
    /* bytes_held already leaves out the pages given back */
    m->frag = s->bytes_live ? (double)s->bytes_held / (double)s->bytes_live : 1.0;
    m->rss_bytes = hak_os_rss_bytes();
}

/* LLC: hardware counters where the kernel gives them, and always the proxy.
 * Hot working set: the live bytes, but no more than the bytes handed out and
 * taken back in one second (a tick-length independent window). */
static void collect_llc(ace_collector_t *c, ace_metrics_t *m, uint64_t churn)
{
    uint64_t churn_1s = m->dt_ns ? (uint64_t)((double)churn * 1e9 / (double)m->dt_ns) : 0;
    m->hot_ws_bytes = churn_1s < m->bytes_live ? churn_1s : m->bytes_live;
    m->llc_proxy = (double)m->hot_ws_bytes / (double)(c->llc_bytes ? c->llc_bytes : (32u << 20));
    if (c->perf_state > 0) {
        uint64_t mi, re;
        perf_scan(c);
        if (perf_read_sum(c, &mi, &re)) {
            uint64_t dm = mi - c->perf_prev_miss, dr = re - c->perf_prev_ref;
            if (c->have_prev && dr > 0) {
                m->llc_valid = 1;
                m->llc_miss_rate = (double)dm / (double)dr;
                if (m->llc_miss_rate > 1) m->llc_miss_rate = 1;
            }
            c->perf_prev_miss = mi;
            c->perf_prev_ref = re;
        }
    }
}

/* Latency samples (from ACE's own heap, sizes of the busiest classes). */
static void collect_latency(ace_collector_t *c, ace_metrics_t *m, const int top[2], int sample)
{
    for (int k = 0; sample && k < 2; k++) {
        size_t sz = 64;
        if (top[k] >= 0 && m->allocs[top[k]] > 0) sz = hak_class_size[top[k]];
        else if (k == 1) break;
        sample_size(c, sz, sz <= 4096 ? 32 : 8);
    }
    if (c->lat_n) {
        m->p50_ns = ace_percentile(c->med, c->med_n, c->lat_scratch, 50);
        m->p99_ns = ace_percentile(c->lat, c->lat_n, c->lat_scratch, 99);
        m->lat_n = c->lat_n;
    }
}

/* What pages cost: released and reused pages, the Large misses and ghost hits, the process's CPU (J's first term), and on the
 * first and slow ticks the OS probe's release and fault costs. */
static void collect_memory(ace_collector_t *c, const hak_snapshot_t *s, ace_metrics_t *m, int probe)
{
    const hak_counters_t *a = &s->sum, *b = &c->tick_prev.sum;
    uint64_t cpu = hak_os_process_cpu_ns(), refills = 0, flushes = 0, ops = 0;
    for (int k = 0; k < HAK_NCLASS && c->have_prev; k++) {
        uint64_t r = a->cls[k].refills - b->cls[k].refills, f = a->cls[k].flushes - b->cls[k].flushes;
        m->slow_ops[k] = r + f;
        refills += r;
        flushes += f;
        ops += (a->allocs[k] - b->allocs[k]) + (a->frees[k] - b->frees[k]);
    }
    if (ops) {
        m->refills_per_kop = 1000.0 * (double)refills / (double)ops;
        m->flushes_per_kop = 1000.0 * (double)flushes / (double)ops;
    }
    if (c->have_prev) {
        m->pages_released = (a->pages_released_spans - b->pages_released_spans) +
                            (a->pages_released_heap - b->pages_released_heap) +
                            (a->pages_released_maps - b->pages_released_maps);
        m->pages_reused = (a->pages_reused_spans - b->pages_reused_spans) +
                          (a->pages_reused_heap - b->pages_reused_heap);
        m->madvise_ns = s->madvise_ns - c->tick_prev.madvise_ns;
        m->ghost_hits = a->large_ghost_hits - b->large_ghost_hits;
        m->large_misses = (a->heap_misses - b->heap_misses) + (a->map_misses - b->map_misses);
        m->proc_cpu_ns = cpu - c->proc_cpu_prev;
    }
    c->proc_cpu_prev = cpu;
    c->tick_prev = *s;
    if (probe) {
        hak_os_page_costs((uint32_t)c->probe_pages, &m->probe_release_ns, &m->probe_fault_ns);
        c->probed = 1;
    }
}

/* ACE's own CPU over a window of at least one second. */
static void collect_cpu(ace_collector_t *c, ace_metrics_t *m)
{
    uint64_t cpu = hak_os_thread_cpu_ns();
    if (!c->cpu_win_wall) { c->cpu_win_wall = m->t_ns; c->cpu_win_cpu = cpu; }
    else if (m->t_ns - c->cpu_win_wall >= 1000000000ull) {
        c->cpu_percent = 100.0 * (double)(cpu - c->cpu_win_cpu) / (double)(m->t_ns - c->cpu_win_wall);
        c->cpu_win_wall = m->t_ns;
        c->cpu_win_cpu = cpu;
    }
    m->cpu_percent = c->cpu_percent;
    m->cpu_total_ns = cpu;
}

void ace_collect(ace_collector_t *c, ace_metrics_t *m, int slow, int slice)
{
    hak_snapshot_t s;
    uint64_t churn;
    int top[2];

    memset(m, 0, sizeof *m);
    hak_snapshot_take(&s);
    m->t_ns = hak_now_ns();
    m->dt_ns = c->have_prev ? m->t_ns - c->prev_ns : 0;
    m->tick = slice ? c->tick : ++c->tick;
    m->slow = slow;
    m->slice = slice;
    m->threads = s.threads;
    churn = collect_classes(c, &s, m, top);
    collect_gauges(c, &s, m);
    collect_llc(c, m, churn);
    collect_latency(c, m, top, !slice);
    collect_cpu(c, m);
    /* per fast tick: the books and the rules' windows; the probe on the first
     * tick with deltas (the first decide step) and on slow ticks */
    if (!slice) collect_memory(c, &s, m, c->have_prev && (slow || !c->probed));

    m->last_scavenge_pages = c->scav_pages;
    if (c->scav_pages >= 64) m->release_ns_page = c->scav_cpu_ns / c->scav_pages;
    m->last_scavenge_ran = c->scav_ran;
    m->last_scavenge_hit_deadline = c->scav_hit;
    c->scav_pages = 0;
    c->scav_ran = 0;
    c->scav_hit = 0;

    memcpy(&m->knobs, &hak_knobs, sizeof m->knobs);
    c->prev = s;
    c->prev_ns = m->t_ns;
    c->have_prev = 1;
}
