/* The knob table: defaults and static overrides (from the options table,
 * hakmem_options.h), and the effective magazine capacity (see hakmem_knobs.h). */
#include "hakmem_knobs.h"
#include "hakmem_options.h"

#define MID_TLS_BYTES    (512u * 1024u)   /* byte budget of one Mid magazine */

hak_knobs_t hak_knobs;
hak_knobs_t hak_knobs_static;

void hak_knobs_init(void)
{
    hak_knobs_t *k = &hak_knobs_static;
    hak_options_parse(HAK_OPT_CORE);
    for (int c = 0; c < HAK_NCLASS; c++) {
        k->tls_cap[c] = hak_option_class(HAK_OPT_TLS_CAP, c);
        k->fixed_tls_cap[c] = (uint8_t)hak_option_class_set(HAK_OPT_TLS_CAP, c);
        k->drain_threshold[c] = hak_option_class(HAK_OPT_DRAIN_THRESHOLD, c);
        k->fixed_drain[c] = (uint8_t)hak_option_class_set(HAK_OPT_DRAIN_THRESHOLD, c);
    }
    k->bundle_width = (uint32_t)hak_option_u64(HAK_OPT_BUNDLE_WIDTH);
    k->fixed_bundle = (uint8_t)hak_option_set(HAK_OPT_BUNDLE_WIDTH);
    k->partial_release_pages = (uint32_t)hak_option_u64(HAK_OPT_PARTIAL_RELEASE_PAGES);
    k->fixed_partial = (uint8_t)hak_option_set(HAK_OPT_PARTIAL_RELEASE_PAGES);
    k->diet_permille = (uint32_t)(hak_option_double(HAK_OPT_DIET_FACTOR) * 1000 + 0.5);
    k->fixed_diet = (uint8_t)hak_option_set(HAK_OPT_DIET_FACTOR);
    k->sparse_div = (uint32_t)hak_option_u64(HAK_OPT_SPARSE_BLOCK_DIV);
    k->fixed_sparse = (uint8_t)hak_option_set(HAK_OPT_SPARSE_BLOCK_DIV);
    k->shrink_min = (uint32_t)hak_option_u64(HAK_OPT_SHRINK_MIN);
    k->fixed_shrink = (uint8_t)hak_option_set(HAK_OPT_SHRINK_MIN);
    k->large_cache_mb = (uint32_t)hak_option_u64(HAK_OPT_LARGE_CACHE_MB);
    k->fixed_large_cache = (uint8_t)hak_option_set(HAK_OPT_LARGE_CACHE_MB);
    k->hold_ms = (uint32_t)hak_option_u64(HAK_OPT_LARGE_DECAY_MS);
    k->fixed_hold = (uint8_t)hak_option_set(HAK_OPT_LARGE_DECAY_MS);
    hak_knobs = *k;
}

void hak_knobs_restore_static(void)
{
    for (int c = 0; c < HAK_NCLASS; c++) {
        HAK_KNOB_SET(tls_cap[c], hak_knobs_static.tls_cap[c]);
        HAK_KNOB_SET(drain_threshold[c], hak_knobs_static.drain_threshold[c]);
    }
    HAK_KNOB_SET(bundle_width, hak_knobs_static.bundle_width);
    HAK_KNOB_SET(partial_release_pages, hak_knobs_static.partial_release_pages);
    HAK_KNOB_SET(diet_permille, hak_knobs_static.diet_permille);
    HAK_KNOB_SET(sparse_div, hak_knobs_static.sparse_div);
    HAK_KNOB_SET(shrink_min, hak_knobs_static.shrink_min);
    HAK_KNOB_SET(large_cache_mb, hak_knobs_static.large_cache_mb);
    HAK_KNOB_SET(hold_ms, hak_knobs_static.hold_ms);
}

uint32_t hak_knobs_effective_cap(int c)
{
    uint32_t cap = HAK_KNOB_GET(tls_cap[c]) * HAK_KNOB_GET(diet_permille) / 1000;
    if (!hak_is_tiny_class(c)) {
        uint32_t by_bytes = MID_TLS_BYTES / hak_class_size[c];
        if (cap > by_bytes)
            cap = by_bytes;
    }
    if (cap < 1)
        cap = 1;
    if (cap > HAK_MAG_MAX)
        cap = HAK_MAG_MAX;
    return cap;
}

/* per-class knob: its value and where it came from */
static void put_per_class(hak_buf_t *b, const uint32_t *v, const uint8_t *fixed)
{
    int nfixed = 0;
    for (int c = 0; c < HAK_NCLASS; c++)
        nfixed += fixed[c];
    hak_put_per_class(b, v);
    hak_put_str(b, nfixed == HAK_NCLASS ? " (fixed)" : nfixed ? " (fixed for the classes given, default for the rest)"
                                                               : " (default)");
}

static void knob_line(int fd, const char *name, const uint32_t *v, const uint8_t *fixed, int per_class, int permille)
{
    hak_buf_t b;
    hak_buf_reset(&b);
    hak_put_str(&b, "hakmem: knob ");
    hak_put_str(&b, name);
    hak_put_ch(&b, '=');
    if (per_class) {
        put_per_class(&b, v, fixed);
    } else {
        if (permille)
            hak_put_fix(&b, *v / 1000.0, 3);
        else
            hak_put_u64(&b, *v);
        hak_put_str(&b, *fixed ? " (fixed)" : " (default)");
    }
    hak_put_ch(&b, '\n');
    if (b.n == sizeof b.b)
        b.b[b.n - 1] = '\n';
    hak_buf_write(fd, &b);
}

void hak_knobs_print(int fd)
{
    const hak_knobs_t *k = &hak_knobs_static;
    knob_line(fd, "tls_cap", k->tls_cap, k->fixed_tls_cap, 1, 0);
    knob_line(fd, "drain_threshold", k->drain_threshold, k->fixed_drain, 1, 0);
    knob_line(fd, "bundle_width", &k->bundle_width, &k->fixed_bundle, 0, 0);
    knob_line(fd, "partial_release_pages", &k->partial_release_pages, &k->fixed_partial, 0, 0);
    knob_line(fd, "diet_factor", &k->diet_permille, &k->fixed_diet, 0, 1);
    knob_line(fd, "sparse_block_div", &k->sparse_div, &k->fixed_sparse, 0, 0);
    knob_line(fd, "shrink_min", &k->shrink_min, &k->fixed_shrink, 0, 0);
    knob_line(fd, "large_cache_mb", &k->large_cache_mb, &k->fixed_large_cache, 0, 0);
    knob_line(fd, "large_decay_ms", &k->hold_ms, &k->fixed_hold, 0, 0);
}
