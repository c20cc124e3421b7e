/* The knob table: defaults, static overrides from the environment, and the
 * effective magazine capacity (see hakmem_knobs.h). */
#include "hakmem_knobs.h"
#include "hakmem_os.h"

/* Defaults (chosen by the knob sweep, docs/results): TLS cap 64 beat 32 on
 * mid_mt +15 %, larson +42 %, xmalloc_small +61 %, small_churn +8 %,
 * phase_change +18 % (default mode, medians of 3) at the same peak RSS. */
#define DEF_TLS_CAP      64
#define DEF_DRAIN        128
#define DEF_BUNDLE       32
#define DEF_PARTIAL      2
#define DEF_DIET         1000
#define MID_TLS_BYTES    (512u * 1024u)   /* byte budget of one Mid magazine */

hak_knobs_t hak_knobs;
hak_knobs_t hak_knobs_static;

static int parse_range(const char *name, const char *s, uint64_t lo, uint64_t hi, uint32_t *out)
{
    int ok;
    const char *end;
    uint64_t v = hak_parse_u64(s, &end, &ok);
    if (!ok || *end || v < lo || v > hi) {
        hak_log("hakmem: ignoring %s=%s (expected an integer in %lu..%lu)", name, s,
                (unsigned long)lo, (unsigned long)hi);
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

/* "N" for every class, or "class:N,class:N" */
static void parse_per_class(const char *name, uint64_t lo, uint64_t hi, uint32_t *vals, uint8_t *fixed)
{
    const char *s = hak_env(name);
    if (!s || !*s)
        return;
    int ok;
    const char *end;
    uint64_t v = hak_parse_u64(s, &end, &ok);
    if (ok && *end == 0) {
        uint32_t x;
        if (parse_range(name, s, lo, hi, &x))
            for (int c = 0; c < HAK_NCLASS; c++) {
                vals[c] = x;
                fixed[c] = 1;
            }
        return;
    }
    for (const char *p = s; *p;) {
        uint64_t c = hak_parse_u64(p, &end, &ok);
        if (!ok || *end != ':' || c >= HAK_NCLASS)
            goto bad;
        p = end + 1;
        v = hak_parse_u64(p, &end, &ok);
        if (!ok || v < lo || v > hi || (*end && *end != ','))
            goto bad;
        vals[c] = (uint32_t)v;
        fixed[c] = 1;
        p = *end ? end + 1 : end;
    }
    return;
bad:
    hak_log("hakmem: ignoring the rest of %s=%s (expected N or class:N,class:N with class < %d, N in %lu..%lu)",
            name, s, HAK_NCLASS, (unsigned long)lo, (unsigned long)hi);
}

/* "0.75" or "1" -> permille */
static void parse_diet(void)
{
    const char *s = hak_env("HAKMEM_DIET_FACTOR");
    if (!s || !*s)
        return;
    int ok;
    const char *end;
    uint64_t ip = hak_parse_u64(s, &end, &ok), frac = 0, scale = 1000;
    if (ok && *end == '.') {
        const char *f = end + 1;
        for (; *f >= '0' && *f <= '9'; f++) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*f - '0') * scale;
            }
        }
        end = f;
    }
    uint64_t pm = ip * 1000 + frac;
    if (!ok || *end || pm < 100 || pm > 1000) {
        hak_log("hakmem: ignoring HAKMEM_DIET_FACTOR=%s (expected a number in 0.1..1.0)", s);
        return;
    }
    hak_knobs_static.diet_permille = (uint32_t)pm;
    hak_knobs_static.fixed_diet = 1;
}

void hak_knobs_init(void)
{
    hak_knobs_t *k = &hak_knobs_static;
    for (int c = 0; c < HAK_NCLASS; c++) {
        k->tls_cap[c] = DEF_TLS_CAP;
        k->drain_threshold[c] = DEF_DRAIN;
    }
    k->bundle_width = DEF_BUNDLE;
    k->partial_release_pages = DEF_PARTIAL;
    k->diet_permille = DEF_DIET;
    parse_per_class("HAKMEM_TLS_CAP", 1, HAK_MAG_MAX, k->tls_cap, k->fixed_tls_cap);
    parse_per_class("HAKMEM_DRAIN_THRESHOLD", 1, 1u << 20, k->drain_threshold, k->fixed_drain);
    const char *s;
    if ((s = hak_env("HAKMEM_BUNDLE_WIDTH")) && *s)
        k->fixed_bundle = (uint8_t)parse_range("HAKMEM_BUNDLE_WIDTH", s, 1, 1024, &k->bundle_width);
    if ((s = hak_env("HAKMEM_PARTIAL_RELEASE_PAGES")) && *s)
        k->fixed_partial = (uint8_t)parse_range("HAKMEM_PARTIAL_RELEASE_PAGES", s, 0, 512, &k->partial_release_pages);
    parse_diet();
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
