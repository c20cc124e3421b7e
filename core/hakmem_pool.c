/* Mid (1 KiB - 256 KiB): a pool of spans per class with a central free list
 * per class, sharded by thread.  Magazines refill from and flush to their
 * thread's shard one batch at a time (its width is bounded by the bundle
 * width knob) under a lock whose wait time is counted.  A shard keeps a
 * bounded depot of batches; batches beyond it go back to their spans'
 * bitmaps so empty spans can be released. */
#include "hakmem_pool.h"
#include "hakmem_report.h"
#include "hakmem_knobs.h"
#include <string.h>

#define MID_CLASSES     (HAK_NCLASS - HAK_TINY_CLASSES)
#define CENTRAL_BYTES   (256u << 10)   /* most free bytes a shard's list keeps per class */

typedef struct hak_central {
    hak_lock_t lock;
    hak_depot_t *depot;     /* in central_depots: touched only once the shard is used */
    hak_span_lists_t spans;
} __attribute__((aligned(64))) hak_central_t;

static hak_central_t central[MID_CLASSES][HAK_SHARDS];
static hak_depot_t central_depots[MID_CLASSES][HAK_SHARDS];

static hak_central_t *central_of(int c, uint32_t shard) { return &central[c - HAK_TINY_CLASSES][shard]; }

/* Blocks a shard keeps in its depot before batches go back to spans. */
static uint32_t central_high_water(int c)
{
    uint32_t bw = HAK_KNOB_GET(bundle_width), by_bytes = CENTRAL_BYTES / hak_class_size[c];
    uint32_t hw = 2 * bw < by_bytes ? 2 * bw : by_bytes;
    return hw ? hw : 1;
}

/* Return p to its span's bitmap (the span's shard lock held). */
static void span_put(hak_central_t *ct, hak_span_t *sp, void *p, hak_counters_t *cnt)
{
    if (hak_spans_return(&ct->spans, sp, &p, 1, HAK_KNOB_GET(partial_release_pages) != 0, cnt)) {
        hak_unlock(&ct->lock);
        hak_report_double("free()", p);
    }
}

/* Return a chain of blocks to their spans, taking each span's shard lock
 * (one acquisition per run of blocks of the same shard). */
static void return_chain(int c, void *p, hak_counters_t *cnt)
{
    hak_central_t *held = NULL;
    while (p) {
        void *next = hak_link_get(p);
        hak_span_t *sp = hak_span_of((uintptr_t)p);
        hak_central_t *ct = central_of(c, sp->shard);
        if (ct != held) {
            if (held)
                hak_unlock(&held->lock);
            hak_lock(&ct->lock, cnt);
            held = ct;
        }
        span_put(ct, sp, p, cnt);
        p = next;
    }
    if (held)
        hak_unlock(&held->lock);
}

/* The maintenance pass over one shard's spans of every Mid class. */
int hak_pool_maintain(uint32_t shard, uint64_t deadline, hak_counters_t *cnt)
{
    uint32_t pages = HAK_KNOB_GET(partial_release_pages);
    for (int c = HAK_TINY_CLASSES; c < HAK_NCLASS; c++) {
        hak_central_t *ct = central_of(c, shard);
        if (!hak_trylock(&ct->lock))
            continue;
        int more = hak_spans_maintain(&ct->spans, pages, deadline, cnt);
        hak_unlock(&ct->lock);
        if (!more)
            return 0;
    }
    return 1;
}

void hak_pool_refill(hak_heap_t *h, int c)
{
    uint32_t cap = hak_knobs_effective_cap(c);
    uint32_t want = HAK_KNOB_GET(bundle_width);
    hak_mag_set_cap(h, c, cap);
    uint32_t room = cap - hak_mag_count(h, c);
    if (want > room)
        want = room;
    hak_batch_t got[HAK_DEPOT_MAX];
    hak_central_t *ct = central_of(c, h->shard);
    hak_lock(&ct->lock, &h->cnt);
    uint32_t k = hak_depot_take_into(ct->depot, got, want, room), n = 0;
    while (!k && n < want) {
        hak_span_t *sp = hak_spans_pick(&ct->spans);
        if (!sp) {
            if (!(sp = hak_span_alloc(c, &h->cnt)))
                break;
            sp->shard = (uint8_t)h->shard;
            hak_spans_insert(&ct->spans, sp);
        }
        n += hak_spans_take(&ct->spans, sp, hak_mag_items(h, c) + hak_mag_count(h, c) + n, want - n);
    }
    hak_unlock(&ct->lock);
    h->top[c] += n;
    for (uint32_t i = 0; i < k; i++)
        hak_mag_put_batch(h, c, got[i]);
    HAK_CNT_INC(h->cnt.cls[c].refills);
}

void hak_pool_flush(hak_heap_t *h, int c, hak_batch_t b)
{
    hak_central_t *ct = central_of(c, h->shard);
    hak_lock(&ct->lock, &h->cnt);
    int kept = hak_depot_put(ct->depot, b, central_high_water(c));
    hak_unlock(&ct->lock);
    if (!kept)
        return_chain(c, b.head, &h->cnt);
    HAK_CNT_INC(h->cnt.cls[c].flushes);
}

void hak_pool_free_direct(hak_span_t *sp, void *p)
{
    hak_link_set(p, NULL);
    return_chain(sp->cls, p, &hak_global_counters);
}

size_t hak_pool_release(int empty_only, uint32_t pages, uint64_t deadline)
{
    size_t done = 0;
    hak_counters_t *cnt = &hak_global_counters;
    for (int c = HAK_TINY_CLASSES; c < HAK_NCLASS; c++)
        for (uint32_t s = 0; s < HAK_SHARDS; s++) {
            if (hak_now_ns() >= deadline)
                return done;
            hak_central_t *ct = central_of(c, s);
            if (!ct->depot->nb && !hak_spans_pick(&ct->spans))
                continue;
            /* the shard's depot goes back to the spans first */
            hak_lock(&ct->lock, cnt);
            hak_depot_t d = *ct->depot;
            ct->depot->nb = ct->depot->blocks = 0;
            hak_unlock(&ct->lock);
            for (uint32_t i = 0; i < d.nb; i++)
                return_chain(c, d.b[i].head, cnt);
            hak_lock(&ct->lock, cnt);
            done += hak_spans_release(&ct->spans, empty_only, pages, deadline, cnt);
            hak_unlock(&ct->lock);
        }
    return done;
}

void hak_pool_lock_all(void)
{
    for (int c = 0; c < MID_CLASSES; c++)
        for (int s = 0; s < HAK_SHARDS; s++)
            pthread_mutex_lock(&central[c][s].lock.m);
}

void hak_pool_unlock_all(void)
{
    for (int c = 0; c < MID_CLASSES; c++)
        for (int s = 0; s < HAK_SHARDS; s++)
            pthread_mutex_unlock(&central[c][s].lock.m);
}

void hak_pool_init(void)
{
    for (int c = 0; c < MID_CLASSES; c++)
        for (int s = 0; s < HAK_SHARDS; s++) {
            central[c][s].spans.reserve = HAK_EMPTY_RESERVE;
            central[c][s].depot = &central_depots[c][s];
        }
}

void hak_pool_reinit_locks(void)
{
    for (int c = 0; c < MID_CLASSES; c++)
        for (int s = 0; s < HAK_SHARDS; s++)
            hak_lock_reinit(&central[c][s].lock);
}
