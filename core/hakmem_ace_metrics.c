/* ACE metrics collection (observe) and the malloc-free helpers ACE uses.
 * See hakmem_ace_metrics.h and docs/ACE.md. */
#define _GNU_SOURCE
#include "hakmem_ace_metrics.h"
#include "hakmem_release.h"
#include "hakmem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

extern char **environ;

/* ------------------------------------------------------------------ env */
const char *ace_env(const char *name)
{
    size_t n = strlen(name);
    char **e = environ;
    if (!e) return NULL;
    for (; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int ace_parse_double(const char *s, double *out)
{
    double v = 0, scale = 1;
    int any = 0, neg = 0;
    if (!s) return 0;
    while (*s == ' ') s++;
    if (*s == '-') { neg = 1; s++; } else if (*s == '+') s++;
    for (; *s >= '0' && *s <= '9'; s++) { v = v * 10 + (*s - '0'); any = 1; }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) { scale /= 10; v += (*s - '0') * scale; any = 1; }
    }
    if (!any) return 0;
    *out = neg ? -v : v;
    return 1;
}

uint64_t ace_env_u64(const char *name, uint64_t dflt)
{
    const char *s = ace_env(name);
    uint64_t v = 0;
    int any = 0;
    if (!s) return dflt;
    for (; *s >= '0' && *s <= '9'; s++) { v = v * 10 + (uint64_t)(*s - '0'); any = 1; }
    return any ? v : dflt;
}

double ace_env_double(const char *name, double dflt)
{
    double v;
    return ace_parse_double(ace_env(name), &v) ? v : dflt;
}

/* ------------------------------------------------------------ formatter */
void ace_buf_reset(ace_buf_t *b) { b->n = 0; }

void ace_put_ch(ace_buf_t *b, char ch)
{
    if (b->n < sizeof b->b) b->b[b->n++] = ch;
}

void ace_put_str(ace_buf_t *b, const char *s)
{
    while (*s) ace_put_ch(b, *s++);
}

void ace_put_u64(ace_buf_t *b, uint64_t v)
{
    char t[24];
    int i = 0;
    do { t[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) ace_put_ch(b, t[--i]);
}

void ace_put_i64(ace_buf_t *b, int64_t v)
{
    if (v < 0) { ace_put_ch(b, '-'); ace_put_u64(b, (uint64_t)(-(v + 1)) + 1); }
    else ace_put_u64(b, (uint64_t)v);
}

void ace_put_fix(ace_buf_t *b, double v, int decimals)
{
    uint64_t scale = 1, ip, fp;
    int i;
    if (v != v) { ace_put_str(b, "nan"); return; }
    if (v < 0) { ace_put_ch(b, '-'); v = -v; }
    for (i = 0; i < decimals; i++) scale *= 10;
    if (v > 1e15) v = 1e15;
    {
        uint64_t all = (uint64_t)(v * (double)scale + 0.5);
        ip = all / scale;
        fp = all % scale;
    }
    ace_put_u64(b, ip);
    if (decimals > 0) {
        char t[24];
        ace_put_ch(b, '.');
        for (i = decimals - 1; i >= 0; i--) { t[i] = (char)('0' + fp % 10); fp /= 10; }
        for (i = 0; i < decimals; i++) ace_put_ch(b, t[i]);
    }
}

void ace_buf_write(int fd, const ace_buf_t *b)
{
    uint32_t off = 0;
    while (off < b->n) {
        ssize_t w = write(fd, b->b + off, b->n - off);
        if (w < 0) { if (errno == EINTR) continue; return; }
        off += (uint32_t)w;
    }
}

/* ------------------------------------------------------------ readers */
uint64_t ace_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ace_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n, tot = 0;
    if (fd < 0) return -1;
    while ((size_t)tot < cap - 1) {
        n = read(fd, buf + tot, cap - 1 - (size_t)tot);
        if (n < 0) { if (errno == EINTR) continue; break; }
        if (n == 0) break;
        tot += n;
    }
    close(fd);
    buf[tot] = 0;
    return tot;
}

uint64_t ace_read_rss_bytes(void)
{
    char buf[128];
    const char *p = buf;
    uint64_t v = 0;
    if (read_small_file("/proc/self/statm", buf, sizeof buf) <= 0) return 0;
    while (*p && *p != ' ') p++;          /* skip size */
    while (*p == ' ') p++;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t ace_read_llc_bytes(void)
{
    char buf[64];
    const char *p = buf;
    uint64_t v = 0;
    if (read_small_file("/sys/devices/system/cpu/cpu0/cache/index3/size", buf, sizeof buf) <= 0)
        return 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    if (*p == 'K') v <<= 10; else if (*p == 'M') v <<= 20; else if (*p == 'G') v <<= 30;
    return v;
}

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
static long perf_open(int tid, uint64_t config, int group)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = config;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    return syscall(SYS_perf_event_open, &a, tid, -1, group, PERF_FLAG_FD_CLOEXEC);
}

/* Try once on the ACE thread; on failure the proxy is used for good. */
static void perf_try(ace_collector_t *c)
{
    long fd = perf_open(0, PERF_COUNT_HW_CACHE_MISSES, -1);
    if (fd < 0) { c->perf_state = -1; c->perf_errno = errno; return; }
    close((int)fd);
    c->perf_state = 1;
}

struct ace_dirent64 { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };

/* Counters are per thread (a process-wide count needs one per thread:
 * inherit only covers threads created after the counter, and ACE starts late).
 * Each tick opens counters for threads not yet seen (up to 64). */
static void perf_scan(ace_collector_t *c)
{
    char buf[4096];
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long n;
    if (fd < 0) return;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        long off = 0;
        while (off < n) {
            struct ace_dirent64 *d = (struct ace_dirent64 *)(buf + off);
            off += d->reclen;
            if (d->name[0] >= '0' && d->name[0] <= '9' && c->perf_n < 64) {
                int tid = 0, k, seen = 0;
                const char *p;
                for (p = d->name; *p; p++) tid = tid * 10 + (*p - '0');
                for (k = 0; k < c->perf_n; k++) if (c->perf_tid[k] == tid) { seen = 1; break; }
                if (!seen) {
                    long fm = perf_open(tid, PERF_COUNT_HW_CACHE_MISSES, -1);
                    long fr = fm >= 0 ? perf_open(tid, PERF_COUNT_HW_CACHE_REFERENCES, -1) : -1;
                    if (fm >= 0 && fr >= 0) {
                        c->perf_tid[c->perf_n] = tid;
                        c->perf_fd_miss[c->perf_n] = (int)fm;
                        c->perf_fd_ref[c->perf_n] = (int)fr;
                        c->perf_n++;
                    } else {
                        if (fm >= 0) close((int)fm);
                    }
                }
            }
        }
    }
    close(fd);
}

static int perf_read_sum(ace_collector_t *c, uint64_t *miss, uint64_t *ref)
{
    int k;
    uint64_t m = 0, r = 0, v;
    for (k = 0; k < c->perf_n; k++) {
        if (read(c->perf_fd_miss[k], &v, sizeof v) == sizeof v) m += v;
        if (read(c->perf_fd_ref[k], &v, sizeof v) == sizeof v) r += v;
    }
    *miss = m; *ref = r;
    return c->perf_n > 0;
}

void ace_collector_close(ace_collector_t *c)
{
    int k;
    for (k = 0; k < c->perf_n; k++) { close(c->perf_fd_miss[k]); close(c->perf_fd_ref[k]); }
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
    return c->tsc_per_ns > 0 ? ace_tsc() : ace_mono_ns();
}

static uint64_t lat_to_ns(const ace_collector_t *c, uint64_t d)
{
    d = d > c->timer_cost ? d - c->timer_cost : 0;
    return c->tsc_per_ns > 0 ? (uint64_t)((double)d / c->tsc_per_ns + 0.5) : d;
}

static void calibrate_timer(ace_collector_t *c)
{
    uint64_t d[63], s[63];
    int i;
    c->tsc_per_ns = 0;
    if (ACE_HAVE_TSC) {
        struct timespec ts = { 0, 5000000 };
        uint64_t t0 = ace_mono_ns(), c0 = ace_tsc(), t1, c1;
        nanosleep(&ts, NULL);
        t1 = ace_mono_ns();
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

static void lat_push(ace_collector_t *c, uint64_t v)
{
    c->lat[c->lat_pos] = v;
    c->lat_pos = (c->lat_pos + 1) % ACE_LAT_WINDOW;
    if (c->lat_n < ACE_LAT_WINDOW) c->lat_n++;
}

/* Two bursts of `batch` mallocs then `batch` frees of one size:
 *  - the first times every operation on its own: the tail (p99) window;
 *    refills and flushes (the slow paths the knobs govern) land here, since
 *    the burst is longer than small magazines;
 *  - the second times each half-burst as one batch and divides: the median
 *    (p50) window.  A fast-path operation is shorter than the timer's
 *    resolution here (rdtscp ticks in steps of ~10 ns in this VM), so only a
 *    batch mean resolves it. */
static void med_push(ace_collector_t *c, uint64_t v)
{
    c->med[c->med_pos] = v;
    c->med_pos = (c->med_pos + 1) % ACE_MED_WINDOW;
    if (c->med_n < ACE_MED_WINDOW) c->med_n++;
}

static uint64_t batch_mean_ns(const ace_collector_t *c, uint64_t d, int batch)
{
    double ns;
    d = d > c->timer_cost ? d - c->timer_cost : 0;
    ns = c->tsc_per_ns > 0 ? (double)d / c->tsc_per_ns : (double)d;
    return (uint64_t)(ns / batch + 0.5);
}

static void sample_size(ace_collector_t *c, size_t size, int batch)
{
    void *p[32];
    int i;
    uint64_t t0, t1, t2;
    for (i = 0; i < batch; i++) {
        t0 = lat_now(c);
        p[i] = hak_malloc(size);
        t1 = lat_now(c);
        lat_push(c, lat_to_ns(c, t1 - t0));
        if (p[i]) *(volatile char *)p[i] = 1;
    }
    for (i = batch - 1; i >= 0; i--) {
        t0 = lat_now(c);
        hak_free(p[i]);
        t1 = lat_now(c);
        lat_push(c, lat_to_ns(c, t1 - t0));
    }
    t0 = lat_now(c);
    for (i = 0; i < batch; i++) p[i] = hak_malloc(size);
    t1 = lat_now(c);
    for (i = batch - 1; i >= 0; i--) hak_free(p[i]);
    t2 = lat_now(c);
    med_push(c, batch_mean_ns(c, t1 - t0, batch));
    med_push(c, batch_mean_ns(c, t2 - t1, batch));
    c->own_ops += 4u * (uint64_t)batch;
}

/* ---------------------------------------------------------- collector */
void ace_collector_init(ace_collector_t *c)
{
    memset(c, 0, sizeof *c);
    c->llc_bytes = ace_read_llc_bytes();
    calibrate_timer(c);
    c->cpu_percent = -1;
    c->page_size = sysconf(_SC_PAGESIZE);
    perf_try(c);
}

void ace_collector_note_scavenge(ace_collector_t *c, uint64_t pages, int hit_deadline)
{
    c->scav_pages = pages;
    c->scav_ran = 1;
    c->scav_hit = hit_deadline;
}

void ace_collect(ace_collector_t *c, ace_metrics_t *m, int slow, int sample_latency)
{
    hak_snapshot_t s;
    uint64_t now, dt, ops = 0, churn = 0, lw;
    int k, top1 = -1, top2 = -1;

    memset(m, 0, sizeof *m);
    hak_snapshot_take(&s);
    now = ace_mono_ns();
    dt = c->have_prev ? now - c->prev_ns : 0;
    m->t_ns = now;
    m->dt_ns = dt;
    m->tick = ++c->tick;
    m->slow = slow;
    m->threads = s.threads;

    for (k = 0; k < HAK_NCLASS; k++) {
        uint64_t a = 0, f = 0, r = 0;
        if (c->have_prev) {
            a = s.sum.allocs[k] - c->prev.sum.allocs[k];
            f = s.sum.frees[k] - c->prev.sum.frees[k];
            r = s.sum.cls[k].remote_frees - c->prev.sum.cls[k].remote_frees;
        }
        m->allocs[k] = a;
        m->remote[k] = r;
        ops += a + f;
        churn += (a + f) * (uint64_t)hak_class_size[k];
        m->backlog[k] = s.backlog[k];
        m->backlog_total += s.backlog[k];
        if (top1 < 0 || a > m->allocs[top1]) { top2 = top1; top1 = k; }
        else if (top2 < 0 || a > m->allocs[top2]) top2 = k;
    }
    if (c->have_prev) {
        ops += (s.sum.large_allocs - c->prev.sum.large_allocs) + (s.sum.large_frees - c->prev.sum.large_frees);
        ops = ops > c->own_ops ? ops - c->own_ops : 0;
    }
    c->own_ops = 0;
    m->ops = ops;
    m->ops_per_s = dt ? (double)ops * 1e9 / (double)dt : 0;

    /* lock wait: fraction of the tick the active threads spent waiting */
    lw = c->have_prev ? s.sum.lock_wait_ns - c->prev.sum.lock_wait_ns : 0;
    m->lock_wait_ns = lw;
    if (dt) {
        double denom = (double)dt * (double)(s.threads ? s.threads : 1);
        m->lock_wait_frac = (double)lw / denom;
        if (m->lock_wait_frac > 1) m->lock_wait_frac = 1;
    }

    /* gauges */
    m->bytes_held = s.bytes_held;
    m->bytes_live = s.bytes_live;
    m->released_bytes = s.released_bytes;
    m->partial_spans = s.partial_spans;
    /* bytes_held already leaves out the pages given back */
    m->frag = s.bytes_live ? (double)s.bytes_held / (double)s.bytes_live : 1.0;
    m->rss_bytes = ace_read_rss_bytes();

    /* LLC: hardware counters where the kernel gives them, else the proxy */
    /* hot working set: the live bytes, but no more than the bytes handed out
     * and taken back in one second (a tick-length independent window) */
    {
        uint64_t churn_1s = dt ? (uint64_t)((double)churn * 1e9 / (double)dt) : 0;
        m->hot_ws_bytes = churn_1s < s.bytes_live ? churn_1s : s.bytes_live;
    }
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

    /* latency samples (from ACE's own heap, sizes of the busiest classes) */
    if (sample_latency) {
        int cls[2] = { top1, top2 };
        for (k = 0; k < 2; k++) {
            size_t sz = 64;
            if (cls[k] >= 0 && m->allocs[cls[k]] > 0) sz = hak_class_size[cls[k]];
            else if (k == 1) break;
            sample_size(c, sz, sz <= 4096 ? 32 : 8);
        }
    }
    if (c->lat_n) {
        m->p50_ns = ace_percentile(c->med, c->med_n, c->lat_scratch, 50);
        m->p99_ns = ace_percentile(c->lat, c->lat_n, c->lat_scratch, 99);
        m->lat_n = c->lat_n;
    }

    /* ACE's own CPU over a window of at least one second */
    {
        uint64_t cpu = ace_thread_cpu_ns();
        if (!c->cpu_win_wall) { c->cpu_win_wall = now; c->cpu_win_cpu = cpu; }
        else if (now - c->cpu_win_wall >= 1000000000ull) {
            c->cpu_percent = 100.0 * (double)(cpu - c->cpu_win_cpu) / (double)(now - c->cpu_win_wall);
            c->cpu_win_wall = now;
            c->cpu_win_cpu = cpu;
        }
        m->cpu_percent = c->cpu_percent;
        m->cpu_total_ns = cpu;
    }

    m->last_scavenge_pages = c->scav_pages;
    m->last_scavenge_ran = c->scav_ran;
    m->last_scavenge_hit_deadline = c->scav_hit;
    c->scav_pages = 0;
    c->scav_ran = 0;
    c->scav_hit = 0;

    memcpy(&m->knobs, &hak_knobs, sizeof m->knobs);
    c->prev = s;
    c->prev_ns = now;
    c->have_prev = 1;
}
