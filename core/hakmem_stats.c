/* Statistics: lock-free sums of the per-thread counters, gauges, and the
 * HAKMEM_STATS=1 report. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_stats.h"
#include "hakmem_large.h"
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
    if (used && used < sp->capacity)
        (*(uint64_t *)arg)++;
}

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
    uint64_t large = __atomic_load_n(&hak_large_live_bytes, __ATOMIC_RELAXED);
    uint64_t spans = __atomic_load_n(&hak_bytes_spans, __ATOMIC_RELAXED);
    s->released_bytes = __atomic_load_n(&hak_bytes_released, __ATOMIC_RELAXED);
    s->bytes_held = spans - (s->released_bytes < spans ? s->released_bytes : spans) + large +
                    __atomic_load_n(&hak_large_cached_bytes, __ATOMIC_RELAXED);
    s->bytes_live = large;
    for (int c = 0; c < HAK_NCLASS; c++) {
        uint64_t a = s->sum.allocs[c], f = s->sum.frees[c];
        if (a > f)
            s->bytes_live += (a - f) * hak_class_size[c];
    }
    hak_segments_foreach_span(count_partial, &s->partial_spans);
}

void hak_get_stats(hak_public_stats_t *out)
{
    hak_snapshot_t s;
    hak_snapshot_take(&s);
    memset(out, 0, sizeof *out);
    for (int c = 0; c < HAK_NCLASS; c++) {
        const hak_class_counters_t *k = &s.sum.cls[c];
        out->allocs += s.sum.allocs[c];
        out->frees += s.sum.frees[c];
        out->refills += k->refills;
        out->flushes += k->flushes;
        out->remote_frees += k->remote_frees;
        out->drains += k->drains;
    }
    out->allocs += s.sum.large_allocs;
    out->frees += s.sum.large_frees;
    out->lock_waits = s.sum.lock_waits;
    out->lock_wait_ns = s.sum.lock_wait_ns;
    out->pages_released = s.sum.pages_released;
    out->slabs_adopted = s.sum.slabs_adopted;
    out->bytes_held = s.bytes_held;
    out->bytes_live = s.bytes_live;
    for (int c = 0; c < HAK_NCLASS; c++)
        out->remote_backlog += s.backlog[c];
}

void hak_print_stats(void)
{
    hak_snapshot_t s;
    hak_snapshot_take(&s);
    hak_log("[hakmem] class     size       allocs        frees    refills    flushes  remote_frees   drains  backlog");
    for (int c = 0; c < HAK_NCLASS; c++) {
        const hak_class_counters_t *k = &s.sum.cls[c];
        if (!s.sum.allocs[c] && !s.sum.frees[c])
            continue;
        hak_log("[hakmem] %5d %8u %12lu %12lu %10lu %10lu %13lu %8lu %8lu", c, hak_class_size[c],
                (unsigned long)s.sum.allocs[c], (unsigned long)s.sum.frees[c], (unsigned long)k->refills,
                (unsigned long)k->flushes, (unsigned long)k->remote_frees, (unsigned long)k->drains,
                (unsigned long)s.backlog[c]);
    }
    hak_public_stats_t t;
    hak_get_stats(&t);
    hak_log("[hakmem] total allocs=%lu frees=%lu refills=%lu flushes=%lu remote_frees=%lu drains=%lu "
            "large_allocs=%lu large_frees=%lu",
            (unsigned long)t.allocs, (unsigned long)t.frees, (unsigned long)t.refills, (unsigned long)t.flushes,
            (unsigned long)t.remote_frees, (unsigned long)t.drains, (unsigned long)s.sum.large_allocs,
            (unsigned long)s.sum.large_frees);
    hak_log("[hakmem] total lock_waits=%lu lock_wait_ns=%lu pages_released=%lu slabs_adopted=%lu "
            "bytes_held=%lu bytes_live=%lu partial_spans=%lu threads=%u",
            (unsigned long)t.lock_waits, (unsigned long)t.lock_wait_ns, (unsigned long)t.pages_released,
            (unsigned long)t.slabs_adopted, (unsigned long)t.bytes_held, (unsigned long)t.bytes_live,
            (unsigned long)s.partial_spans, s.threads);
}
