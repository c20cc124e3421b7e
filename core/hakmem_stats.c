/* Statistics: lock-free sums of the per-thread counters, gauges, and the one
 * walk over the figures for the text and JSON forms. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_stats.h"
#include "hakmem_large.h"
#include "hakmem_page_heap.h"
#include <string.h>

static void add_counters(hak_counters_t *dst, const hak_counters_t *src)
{
    const uint64_t *s = (const uint64_t *)src;
    uint64_t *d = (uint64_t *)dst;
    for (size_t i = 0; i < sizeof(hak_counters_t) / sizeof(uint64_t); i++)
        d[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

static void sum_heap(hak_heap_t *h, void *arg)
{
    hak_snapshot_t *s = arg;
    add_counters(&s->sum, &h->cnt);
    if (__atomic_load_n(&h->live, __ATOMIC_RELAXED))
        s->threads++;
}

static void count_partial(const hak_span_t *sp, void *arg)
{
    uint32_t used = __atomic_load_n(&sp->used, __ATOMIC_RELAXED);
    if (used && used < __atomic_load_n(&sp->capacity, __ATOMIC_RELAXED))
        (*(uint64_t *)arg)++;
}

static uint64_t load(const uint64_t *v) { return __atomic_load_n(v, __ATOMIC_RELAXED); }

void hak_snapshot_take(hak_snapshot_t *s)
{
    memset(s, 0, sizeof *s);
    hak_heap_foreach(sum_heap, s);
    add_counters(&s->sum, &hak_global_counters);
    for (int c = 0; c < HAK_TINY_CLASSES; c++) {
        /* each side counted by its own thread: the sums may be a little apart */
        uint64_t in = s->sum.cls[c].remote_frees, out = s->sum.cls[c].remote_collected;
        s->backlog[c] = in > out ? in - out : 0;
    }
    s->large_live = load(&hak_large_live_count);
    s->large_live_bytes = load(&hak_large_live_bytes);
    s->heap_mapped_bytes = load(&hak_pageheap_mapped_bytes);
    s->heap_dirty_bytes = hak_pageheap_free_bytes();
    s->large_cached_bytes = load(&hak_large_cached_bytes) + s->heap_dirty_bytes;
    s->minor_faults = hak_os_minor_faults();
    s->madvise_calls = load(&hak_os_release_calls);
    s->madvise_ns = load(&hak_os_release_ns);
    uint64_t spans = load(&hak_bytes_spans);
    s->released_bytes = load(&hak_bytes_released);
    s->span_bytes = spans - (s->released_bytes < spans ? s->released_bytes : spans);
    s->span_bytes_peak = load(&hak_bytes_spans_peak);
    s->segment_bytes = load(&hak_bytes_segments);
    s->bytes_held = s->span_bytes + s->large_live_bytes + s->large_cached_bytes;
    s->bytes_live = s->large_live_bytes;
    for (int c = 0; c < HAK_NCLASS; c++) {
        uint64_t a = s->sum.allocs[c], f = s->sum.frees[c], live = a > f ? a - f : 0;
        uint64_t blocks = load(&hak_class_blocks[c]);
        s->bytes_live += live * hak_class_size[c];
        s->free_blocks[c] = blocks > live ? blocks - live : 0;
    }
    hak_segments_foreach_span(count_partial, &s->partial_spans);
}

/* ---- the figures: one table for every form ---- */

enum { C_CLASS, C_SIZE, C_ALLOCS, C_FREES, C_REFILLS, C_FLUSHES, C_REMOTE, C_DRAINS, C_BACKLOG, C_FREE, C_N };
static const struct { const char *name; int width; } cols[C_N] = {
    { "class", 5 }, { "size", 8 }, { "allocs", 12 }, { "frees", 12 }, { "refills", 10 }, { "flushes", 10 },
    { "remote_frees", 13 }, { "drains", 8 }, { "backlog", 8 }, { "free_blocks", 11 },
};

enum {
    T_ALLOCS, T_FREES, T_REFILLS, T_FLUSHES, T_REMOTE, T_DRAINS, T_LARGE_ALLOCS, T_LARGE_FREES,
    T_LOCK_WAITS, T_LOCK_WAIT_NS, T_PAGES_RELEASED, T_ADOPTED, T_HELD, T_LIVE, T_PARTIAL, T_THREADS,
    T_BACKLOG, T_SPAN_BYTES, T_LARGE_LIVE, T_LARGE_LIVE_BYTES, T_LARGE_CACHED,
    T_PR_SPANS, T_PR_HEAP, T_PR_MAPS, T_REUSED_SPANS, T_REUSED_HEAP, T_MINFLT, T_MADV_CALLS, T_MADV_NS,
    T_HEAP_HITS, T_HEAP_MISSES, T_HEAP_PURGES, T_HEAP_MAPPED, T_HEAP_DIRTY, T_HEAP_LOCK_WAITS, T_HEAP_LOCK_NS,
    T_MAP_HITS, T_MAP_MISSES, T_MAP_EVICTIONS, T_MAP_REMAPS, T_GHOST_HITS, T_N
};
static const char *const tot_names[T_N] = {
    "allocs", "frees", "refills", "flushes", "remote_frees", "drains", "large_allocs", "large_frees",
    "lock_waits", "lock_wait_ns", "pages_released", "spans_adopted", "bytes_held", "bytes_live", "partial_spans",
    "threads", "remote_backlog", "span_bytes", "large_blocks", "large_bytes", "large_cached_bytes",
    "pages_released_spans", "pages_released_heap", "pages_released_maps", "pages_reused_spans",
    "pages_reused_heap", "minor_faults", "madvise_calls", "madvise_ns",
    "heap_hits", "heap_misses", "heap_purges", "heap_mapped_bytes", "heap_free_bytes", "heap_lock_waits",
    "heap_lock_wait_ns",
    "map_hits", "map_misses", "map_evictions", "map_remaps", "large_ghost_hits",
};
/* the text form's line breaks: each total line starts at one of these */
static const int tot_lines[] = { T_ALLOCS, T_LOCK_WAITS, T_BACKLOG, T_PR_SPANS, T_HEAP_HITS, T_MAP_HITS, T_N };

static void class_row(const hak_snapshot_t *s, int c, uint64_t v[C_N])
{
    const hak_class_counters_t *k = &s->sum.cls[c];
    v[C_CLASS] = (uint64_t)c;
    v[C_SIZE] = hak_class_size[c];
    v[C_ALLOCS] = s->sum.allocs[c];
    v[C_FREES] = s->sum.frees[c];
    v[C_REFILLS] = k->refills;
    v[C_FLUSHES] = k->flushes;
    v[C_REMOTE] = k->remote_frees;
    v[C_DRAINS] = k->drains;
    v[C_BACKLOG] = s->backlog[c];
    v[C_FREE] = s->free_blocks[c];
}

static void totals(const hak_snapshot_t *s, uint64_t t[T_N])
{
    memset(t, 0, T_N * sizeof *t);
    for (int c = 0; c < HAK_NCLASS; c++) {
        const hak_class_counters_t *k = &s->sum.cls[c];
        t[T_ALLOCS] += s->sum.allocs[c];
        t[T_FREES] += s->sum.frees[c];
        t[T_REFILLS] += k->refills;
        t[T_FLUSHES] += k->flushes;
        t[T_REMOTE] += k->remote_frees;
        t[T_DRAINS] += k->drains;
        t[T_BACKLOG] += s->backlog[c];
    }
    t[T_ALLOCS] += s->sum.large_allocs;
    t[T_FREES] += s->sum.large_frees;
    t[T_LARGE_ALLOCS] = s->sum.large_allocs;
    t[T_LARGE_FREES] = s->sum.large_frees;
    t[T_LOCK_WAITS] = s->sum.lock_waits;
    t[T_LOCK_WAIT_NS] = s->sum.lock_wait_ns;
    t[T_PR_SPANS] = s->sum.pages_released_spans;
    t[T_PR_HEAP] = s->sum.pages_released_heap;
    t[T_PR_MAPS] = s->sum.pages_released_maps;
    t[T_PAGES_RELEASED] = t[T_PR_SPANS] + t[T_PR_HEAP] + t[T_PR_MAPS];
    t[T_REUSED_SPANS] = s->sum.pages_reused_spans;
    t[T_REUSED_HEAP] = s->sum.pages_reused_heap;
    t[T_MINFLT] = s->minor_faults;
    t[T_MADV_CALLS] = s->madvise_calls;
    t[T_MADV_NS] = s->madvise_ns;
    t[T_HEAP_HITS] = s->sum.heap_hits;
    t[T_HEAP_MISSES] = s->sum.heap_misses;
    t[T_HEAP_PURGES] = s->sum.heap_purges;
    t[T_HEAP_MAPPED] = s->heap_mapped_bytes;
    t[T_HEAP_DIRTY] = s->heap_dirty_bytes;
    t[T_HEAP_LOCK_WAITS] = s->sum.heap_lock_waits;
    t[T_HEAP_LOCK_NS] = s->sum.heap_lock_wait_ns;
    t[T_MAP_HITS] = s->sum.map_hits;
    t[T_MAP_MISSES] = s->sum.map_misses;
    t[T_MAP_EVICTIONS] = s->sum.map_evictions;
    t[T_MAP_REMAPS] = s->sum.map_remaps;
    t[T_GHOST_HITS] = s->sum.large_ghost_hits;
    t[T_ADOPTED] = s->sum.spans_adopted;
    t[T_HELD] = s->bytes_held;
    t[T_LIVE] = s->bytes_live;
    t[T_PARTIAL] = s->partial_spans;
    t[T_THREADS] = s->threads;
    t[T_SPAN_BYTES] = s->span_bytes;
    t[T_LARGE_LIVE] = s->large_live;
    t[T_LARGE_LIVE_BYTES] = s->large_live_bytes;
    t[T_LARGE_CACHED] = s->large_cached_bytes;
}

void hak_get_stats(hak_public_stats_t *out)
{
    hak_snapshot_t s;
    uint64_t t[T_N];
    hak_snapshot_take(&s);
    totals(&s, t);
    memset(out, 0, sizeof *out);
    out->allocs = t[T_ALLOCS];
    out->frees = t[T_FREES];
    out->refills = t[T_REFILLS];
    out->flushes = t[T_FLUSHES];
    out->remote_frees = t[T_REMOTE];
    out->drains = t[T_DRAINS];
    out->lock_waits = t[T_LOCK_WAITS];
    out->lock_wait_ns = t[T_LOCK_WAIT_NS];
    out->pages_released = t[T_PAGES_RELEASED];
    out->spans_adopted = t[T_ADOPTED];
    out->bytes_held = t[T_HELD];
    out->bytes_live = t[T_LIVE];
    out->remote_backlog = t[T_BACKLOG];
}

/* ---- output ---- */

void hak_sink_put(hak_sink_t *o, const hak_buf_t *b)
{
    if (o->fd >= 0) {
        hak_buf_write(o->fd, b);
    } else if (o->len < o->cap) {
        size_t n = o->cap - o->len < b->n ? o->cap - o->len : b->n;
        memcpy(o->dst + o->len, b->b, n);
    }
    o->len += b->n;
}

static void put_pad(hak_buf_t *b, const char *s, uint64_t v, int width)
{
    char t[24];
    int n = s ? (int)strlen(s) : hak_fmt(t, sizeof t, "%llu", (unsigned long long)v);
    for (; n < width; n++)
        hak_put_ch(b, ' ');
    hak_put_str(b, s ? s : t);
}

/* "name":v (JSON) or name=v (text) */
static void put_pair(hak_buf_t *b, int json, const char *name, uint64_t v)
{
    if (json)
        hak_put_ch(b, '"');
    hak_put_str(b, name);
    hak_put_str(b, json ? "\":" : "=");
    hak_put_u64(b, v);
}

void hak_stats_write(const hak_snapshot_t *s, int json, hak_sink_t *o)
{
    hak_buf_t b;
    uint64_t v[C_N], t[T_N];
    int first = 1;
    hak_buf_reset(&b);
    if (json) {
        hak_put_str(&b, "{\"classes\":[");
    } else {
        hak_put_str(&b, "[hakmem]");
        for (int k = 0; k < C_N; k++) {
            hak_put_ch(&b, ' ');
            put_pad(&b, cols[k].name, 0, cols[k].width);
        }
    }
    for (int c = 0; c < HAK_NCLASS; c++) {
        if (!s->sum.allocs[c] && !s->sum.frees[c])
            continue;
        class_row(s, c, v);
        if (!json || !first)
            hak_put_str(&b, json ? ",\n" : "\n");
        hak_sink_put(o, &b);
        hak_buf_reset(&b);
        hak_put_str(&b, json ? "{" : "[hakmem]");
        for (int k = 0; k < C_N; k++) {
            if (json) {
                if (k)
                    hak_put_ch(&b, ',');
                put_pair(&b, 1, cols[k].name, v[k]);
            } else {
                hak_put_ch(&b, ' ');
                put_pad(&b, NULL, v[k], cols[k].width);
            }
        }
        if (json)
            hak_put_ch(&b, '}');
        first = 0;
    }
    totals(s, t);
    for (int l = 0; tot_lines[l] < T_N; l++) {
        hak_put_str(&b, json ? (l ? ",\n" : "],\n\"total\":{") : "\n[hakmem] total");
        hak_sink_put(o, &b);
        hak_buf_reset(&b);
        for (int k = tot_lines[l]; k < tot_lines[l + 1]; k++) {
            if (k > tot_lines[l])
                hak_put_ch(&b, json ? ',' : ' ');
            else if (!json)
                hak_put_ch(&b, ' ');
            put_pair(&b, json, tot_names[k], t[k]);
        }
    }
    hak_put_str(&b, json ? "}}\n" : "\n");
    hak_sink_put(o, &b);
}

void hak_print_stats(void)
{
    hak_snapshot_t s;
    hak_sink_t o = { 2, NULL, 0, 0 };
    hak_snapshot_take(&s);
    hak_stats_write(&s, 0, &o);
}

size_t hak_stats_json(char *buf, size_t len)
{
    hak_snapshot_t s;
    hak_sink_t o = { -1, buf, len, 0 };
    hak_snapshot_take(&s);
    hak_stats_write(&s, 1, &o);
    if (len)
        buf[o.len < len ? o.len : len - 1] = 0;
    return o.len;
}
