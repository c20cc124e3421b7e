/* Fragmentation stress (the seed's first weak workload).
 *
 * 1. Churn phases, each with its own size mix (small, mixed, mid, wide): random
 *    replace in a slot array; about 1 allocation in 256 becomes a long-lived
 *    survivor kept to the end, so survivors end up scattered among freed blocks.
 * 2. Churn slots are freed; then fill (many small blocks), free 90% of them
 *    (every 10th kept, freed in a scattered order), allocate medium blocks.
 * 3. Idle (sleep) so that delayed release / ACE's scavenge can act; RSS measured
 *    after it.  live_bytes and live_pages_kb (distinct 4 KiB pages touched by a
 *    live block) let the reader estimate the floor no allocator can go below:
 *    rss_floor_kb = rss_base_kb + live_pages_kb (objects are never moved).
 *
 * Every block is stamped with a byte derived from its allocation number and
 * checked before it is freed and at the end (verify_errors must be 0).
 */
#include "bench_common.h"

typedef struct { unsigned char *p; size_t n; unsigned char tag; } blk_t;

static uint64_t n_ops, verify_errors;

static inline void blk_alloc(blk_t *b, size_t n, uint64_t id)
{
    b->p = xmalloc(n);
    b->n = n;
    b->tag = (unsigned char)(id * 131 + 7);
    touch(b->p, n, b->tag);
    n_ops++;
}
static inline void blk_check(const blk_t *b)
{
    if (b->p[0] != b->tag || b->p[b->n - 1] != b->tag || (b->n > 128 && b->p[b->n / 2] != b->tag))
        verify_errors++;
}
static inline void blk_free(blk_t *b)
{
    blk_check(b);
    free(b->p);
    b->p = NULL;
    n_ops++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("fragment_stress");
    long rss_base_kb = proc_status_kb("VmRSS");
    long nslots = bench_param("slots", 20000, 40000, 80000);
    long phase_ops = bench_param("phase_ops", 150000, 600000, 2400000);
    long fill_mb = bench_param("fill_mb", 32, 128, 512);
    long idle_ms = bench_param("idle_ms", 1000, 1500, 2000);
    long seed = bench_param("seed", 42, 42, 42);

    static const size_t mix[4][2] = {{16, 256}, {16, 4096}, {1024, 32768}, {16, 65536}};
    rng_t r;
    rng_seed(&r, (uint64_t)seed);
    blk_t *slots = calloc((size_t)nslots, sizeof *slots);
    size_t surv_cap = (size_t)(4 * phase_ops / 128 + 16), nsurv = 0;
    blk_t *surv = calloc(surv_cap, sizeof *surv);
    uint64_t id = 0;
    if (!slots || !surv) die("calloc");

    bench_clock_start();
    /* 1. churn phases */
    for (int ph = 0; ph < 4; ph++) {
        for (long i = 0; i < phase_ops; i++) {
            blk_t *s = &slots[rng_below(&r, (uint64_t)nslots)];
            if (s->p) blk_free(s);
            size_t n = rng_logsize(&r, mix[ph][0], mix[ph][1]);
            blk_alloc(s, n, ++id);
            if ((rng_next(&r) & 255) == 0 && nsurv < surv_cap) {  /* becomes a survivor */
                surv[nsurv++] = *s;
                s->p = NULL;
            }
        }
    }
    for (long i = 0; i < nslots; i++)
        if (slots[i].p) blk_free(&slots[i]);

    /* 2. fill, free 90 %, allocate medium */
    size_t fill_bytes = (size_t)fill_mb << 20, got = 0, nfill = 0, fill_cap = fill_bytes / 16 + 1;
    blk_t *fill = malloc(fill_cap * sizeof *fill);
    if (!fill) die("malloc");
    while (got < fill_bytes && nfill < fill_cap) {
        size_t n = rng_logsize(&r, 16, 512);
        blk_alloc(&fill[nfill++], n, ++id);
        got += n;
    }
    /* free every block whose index is not a multiple of 10, in a scattered order */
    size_t stride = 7919;
    while (nfill % stride == 0) stride += 2;
    for (size_t k = 0, j = 0; k < nfill; k++, j = (j + stride) % nfill)
        if (j % 10 != 0) blk_free(&fill[j]);
    size_t med_bytes = fill_bytes / 4, mgot = 0, nmed = 0, med_cap = med_bytes / 2048 + 1;
    blk_t *med = malloc(med_cap * sizeof *med);
    if (!med) die("malloc");
    while (mgot < med_bytes && nmed < med_cap) {
        size_t n = rng_logsize(&r, 2048, 16384);
        blk_alloc(&med[nmed++], n, ++id);
        mgot += n;
    }
    bench_clock_stop();
    long rss_before_idle = proc_status_kb("VmRSS");

    /* 3. idle */
    struct timespec ts = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    long rss_after_idle = proc_status_kb("VmRSS");

    /* live set: survivors, every 10th fill block, medium blocks */
    size_t live_bytes = 0, live_blocks = 0, npages = 0;
    size_t maxpages = nsurv * 18 + (nfill / 10 + 1) * 2 + nmed * 6 + 16;
    uint64_t *pages = malloc(maxpages * sizeof *pages);
    if (!pages) die("malloc");
#define LIVE(b) do { blk_check(b); live_bytes += (b)->n; live_blocks++; \
        for (uintptr_t pg = (uintptr_t)(b)->p >> 12; pg <= ((uintptr_t)(b)->p + (b)->n - 1) >> 12; pg++) \
            if (npages < maxpages) pages[npages++] = pg; } while (0)
    for (size_t i = 0; i < nsurv; i++) LIVE(&surv[i]);
    for (size_t j = 0; j < nfill; j += 10) LIVE(&fill[j]);
    for (size_t i = 0; i < nmed; i++) LIVE(&med[i]);
    qsort(pages, npages, sizeof *pages, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < npages; i++)
        if (i == 0 || pages[i] != pages[i - 1]) distinct++;
    free(pages);

    printf("survivors=%zu\n", nsurv);
    printf("live_blocks=%zu\n", live_blocks);
    printf("live_bytes=%zu\n", live_bytes);
    printf("verify_errors=%" PRIu64 "\n", verify_errors);
    bench_report(n_ops);
    printf("rss_base_kb=%ld\n", rss_base_kb);
    printf("rss_before_idle_kb=%ld\n", rss_before_idle);
    printf("rss_after_idle_kb=%ld\n", rss_after_idle);
    printf("live_pages_kb=%zu\n", distinct * 4);
    printf("rss_floor_kb=%ld\n", rss_base_kb + (long)distinct * 4);
    printf("rss_excess_kb=%ld\n", rss_after_idle - rss_base_kb - (long)distinct * 4);
    bench_end();

    for (size_t i = 0; i < nsurv; i++) free(surv[i].p);
    for (size_t j = 0; j < nfill; j += 10) free(fill[j].p);
    for (size_t i = 0; i < nmed; i++) free(med[i].p);
    free(fill); free(med); free(surv); free(slots);
    return verify_errors ? 3 : 0;
}
