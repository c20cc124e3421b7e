/* The one table of HAKMEM_* environment variables and its parser (see
 * hakmem_options.h).  Runs before anything allocates: the environment is
 * scanned with hak_env, messages go out through hak_buf_write. */
#include "hakmem_options.h"
#include "hakmem_os.h"
#include <string.h>

#define U64_MAX_D 18446744073709551615.0
#define CORE HAK_OPT_CORE
#define ACE  HAK_OPT_ACE

/* Knob defaults (chosen by the knob sweep, docs/results): TLS cap 64 beat 32
 * on mid_mt +15 %, larson +42 %, xmalloc_small +61 %, small_churn +8 %,
 * phase_change +18 % (default mode, medians of 3) at the same peak RSS. */
static const hak_option_t table[HAK_OPT_N] = {
    [HAK_OPT_TLS_CAP] = { "HAKMEM_TLS_CAP", HAK_OPT_PER_CLASS, CORE, 0, HAK_DEF_TLS_CAP, 1, HAK_MAG_MAX,
        "magazine (thread cache) capacity per size class; N for every class or class:N,class:N" },
    [HAK_OPT_DRAIN_THRESHOLD] = { "HAKMEM_DRAIN_THRESHOLD", HAK_OPT_PER_CLASS, CORE, 0, HAK_DEF_DRAIN_THRESHOLD, 1, 1u << 20,
        "pending remote frees on one span at which its owner collects them (Tiny classes; at most half the span); same forms" },
    [HAK_OPT_BUNDLE_WIDTH] = { "HAKMEM_BUNDLE_WIDTH", HAK_OPT_INT, CORE, 0, HAK_DEF_BUNDLE_WIDTH, 1, 1024,
        "blocks moved per transfer between a thread and a Mid central free list" },
    [HAK_OPT_PARTIAL_RELEASE_PAGES] = { "HAKMEM_PARTIAL_RELEASE_PAGES", HAK_OPT_INT, CORE, 0, HAK_DEF_PARTIAL_RELEASE_PAGES, 0, 512,
        "OS pages released per block returned to a sparse span and per span per partial-release pass (0: per-block release off)" },
    [HAK_OPT_DIET_FACTOR] = { "HAKMEM_DIET_FACTOR", HAK_OPT_REAL, CORE, 0, HAK_DEF_DIET_FACTOR, 0.1, 1.0,
        "multiplier on the TLS capacity; ACE lowers it under LLC pressure" },
    [HAK_OPT_STATS] = { "HAKMEM_STATS", HAK_OPT_CHOICE, CORE, 0, 0, 0, 2,
        "statistics at exit: 1 or text per-class and total lines, json one JSON object (hak_stats_json); to stderr or HAKMEM_STATS_FILE",
        "off|text|json" },
    [HAK_OPT_STATS_FILE] = { "HAKMEM_STATS_FILE", HAK_OPT_PATH, CORE, 0, 0, 0, HAK_PATH_MAX,
        "file the exit statistics are written to instead of stderr (<file>.<pid> in a forked child)" },
    [HAK_OPT_VERBOSE] = { "HAKMEM_VERBOSE", HAK_OPT_FLAG, CORE, 1, 0, 0, 1,
        "1: at start, print every option and knob with its value and source, page, segment and LLC sizes, hardware counters" },
    [HAK_OPT_LARGE_CACHE_MB] = { "HAKMEM_LARGE_CACHE_MB", HAK_OPT_INT, CORE, 1, 64, 0, 1u << 20,
        "MiB of freed large blocks kept resident for reuse, or twice the bytes live large blocks hold if more (0: freed large blocks go back to the OS at once)" },
    [HAK_OPT_LARGE_DECAY_MS] = { "HAKMEM_LARGE_DECAY_MS", HAK_OPT_INT, CORE, 1, 1000, 0, 3600000,
        "ms a freed large block stays resident before a later large call or maintenance pass gives its pages back (the hold time; ACE sets it from HAKMEM_ACE_MEM_PRICE unless given)" },
    [HAK_OPT_HUGEPAGES] = { "HAKMEM_HUGEPAGES", HAK_OPT_FLAG, CORE, 1, 0, 0, 1,
        "1: transparent huge pages for segments (MADV_HUGEPAGE until a segment gives pages back) and for large blocks of 2 MiB and more (2 MiB aligned)" },
    [HAK_OPT_SPARSE_BLOCK_DIV] = { "HAKMEM_SPARSE_BLOCK_DIV", HAK_OPT_INT, CORE, 1, HAK_DEF_SPARSE_BLOCK_DIV, 1, 64,
        "a span at most 1/N used gives back the pages under the blocks returned to it (larger: fewer spans release, less page-fault churn)" },
    [HAK_OPT_SHRINK_MIN] = { "HAKMEM_SHRINK_MIN", HAK_OPT_INT, CORE, 1, HAK_DEF_SHRINK_MIN, 0, 1u << 20,
        "... only while more than N blocks came back to its class than were taken since the last maintenance pass" },
    [HAK_OPT_ACE_ENABLED] = { "HAKMEM_ACE_ENABLED", HAK_OPT_FLAG, ACE, 1, 0, 0, 1,
        "1 (yes, true, on) starts ACE's thread (lazily, from an allocation slow path)" },
    [HAK_OPT_ACE_FAST_INTERVAL_MS] = { "HAKMEM_ACE_FAST_INTERVAL_MS", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_FAST_INTERVAL_MS, 1, 1e9,
        "fast loop period, ms (at least 1)" },
    [HAK_OPT_ACE_SLOW_INTERVAL_S] = { "HAKMEM_ACE_SLOW_INTERVAL_S", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_SLOW_INTERVAL_S, 0, 1e6,
        "slow loop period, s (never shorter than the fast loop's)" },
    [HAK_OPT_ACE_SLOW_INTERVAL_MS] = { "HAKMEM_ACE_SLOW_INTERVAL_MS", HAK_OPT_REAL, ACE, 1, 0, 0, 1e9,
        "slow loop period in ms; overrides _S when given" },
    [HAK_OPT_ACE_SLICE_MS] = { "HAKMEM_ACE_SLICE_MS", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_SLICE_MS, 1, 1e9,
        "length of one slice of a bandit duel, ms (at least 1; at most the fast tick)" },
    [HAK_OPT_ACE_LOG_LEVEL] = { "HAKMEM_ACE_LOG_LEVEL", HAK_OPT_INT, ACE, 1, 0, 0, 2,
        "0 off (safety-valve line only), 1 info, 2 debug" },
    [HAK_OPT_ACE_TRACE] = { "HAKMEM_ACE_TRACE", HAK_OPT_PATH, ACE, 0, 0, 0, HAK_PATH_MAX,
        "file: a CSV row of metrics and knob values per tick (<file>.<pid> in a forked child)" },
    [HAK_OPT_ACE_MAX_P99_LAT_NS] = { "HAKMEM_ACE_MAX_P99_LAT_NS", HAK_OPT_INT, ACE, 1, HAK_DEF_ACE_MAX_P99_LAT_NS, 0, U64_MAX_D,
        "safety valve: sampled p99 allocation latency, ns" },
    [HAK_OPT_ACE_MAX_RSS_MB] = { "HAKMEM_ACE_MAX_RSS_MB", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_MAX_RSS_MB, 0, 1e12,
        "safety valve: resident set size, MiB" },
    [HAK_OPT_ACE_MAX_CPU_PERCENT] = { "HAKMEM_ACE_MAX_CPU_PERCENT", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_MAX_CPU_PERCENT, 0, 1e6,
        "safety valve: ACE's own CPU use, percent of one core" },
    [HAK_OPT_ACE_MEM_PRICE] = { "HAKMEM_ACE_MEM_PRICE", HAK_OPT_REAL, ACE, 1, HAK_DEF_ACE_MEM_PRICE, 0, 1e6,
        "the price of memory in cores per GiB: ACE minimises CPU-seconds + price/1024 x MiB-seconds of RSS (0.25: one core is worth 4 GiB held)" },
    [HAK_OPT_ACE_RSS_TARGET_MB] = { "HAKMEM_ACE_RSS_TARGET_MB", HAK_OPT_REAL, ACE, 1, 0, 0, 1e12,
        "soft RSS target, MiB (0: none): above it ACE releases harder and scavenges toward it" },
    [HAK_OPT_ACE_IDLE_SCAVENGE_MS] = { "HAKMEM_ACE_IDLE_SCAVENGE_MS", HAK_OPT_REAL, ACE, 1, 0, 0, 1e9,
        "idle time after which ACE gives back every free page, ms (unset: the hold time ACE computes from the price)" },
};

typedef struct opt_val {
    uint8_t     set;        /* the value came from the environment */
    uint8_t     reported;   /* an unusable value was reported (never twice) */
    uint64_t    u;
    double      d;
    const char *s;          /* PATH: path[] once set, else NULL */
    /* a copy: programs rewrite their environment (redis-server writes its
     * process title over it), and the file is opened later, at exit */
    char        path[HAK_PATH_MAX + 1];
} opt_val_t;

static opt_val_t val[HAK_OPT_N];
static uint32_t  cls_val[HAK_OPT_N_PER_CLASS][HAK_NCLASS];
static uint8_t   cls_set[HAK_OPT_N_PER_CLASS][HAK_NCLASS];
static unsigned  parsed;    /* groups parsed so far (atomic) */

const hak_option_t *hak_option_info(int id) { return &table[id]; }

/* ------------------------------------------------------------ messages */
static void put_range_u(hak_buf_t *b, const hak_option_t *o)
{
    hak_put_u64(b, (uint64_t)o->lo);
    hak_put_str(b, "..");
    hak_put_u64(b, (uint64_t)o->hi);
}

/* the accepted form, as the message says it */
static void put_form(hak_buf_t *b, const hak_option_t *o, int rest)
{
    switch (o->type) {
    case HAK_OPT_FLAG:
        hak_put_str(b, "0, 1, no, yes, false, true, off or on");
        break;
    case HAK_OPT_CHOICE:
        for (const char *w = o->words; *w; w++)
            hak_put_ch(b, *w == '|' ? ',' : *w);
        hak_put_str(b, " or 0..");
        hak_put_u64(b, (uint64_t)o->hi);
        break;
    case HAK_OPT_PATH:
        hak_put_str(b, "a file name of at most ");
        hak_put_u64(b, (uint64_t)o->hi);
        hak_put_str(b, " bytes");
        break;
    case HAK_OPT_REAL:
        hak_put_str(b, o->clamp ? "a number, fractions allowed" : "a number in ");
        if (!o->clamp) {
            hak_put_fix(b, o->lo, 1);
            hak_put_str(b, "..");
            hak_put_fix(b, o->hi, 1);
        }
        break;
    default:
        if (rest) {
            hak_put_str(b, "N or class:N,class:N with class < ");
            hak_put_u64(b, HAK_NCLASS);
            hak_put_str(b, ", N in ");
            put_range_u(b, o);
        } else {
            hak_put_str(b, o->clamp ? "an integer" : "an integer in ");
            if (!o->clamp)
                put_range_u(b, o);
        }
    }
}

/* "hakmem: ignoring [the rest of ]NAME=VALUE (expected FORM)", once per option */
static void report(int id, const char *s, int rest)
{
    hak_buf_t b;
    if (val[id].reported)
        return;
    val[id].reported = 1;
    hak_buf_reset(&b);
    hak_put_str(&b, rest ? "hakmem: ignoring the rest of " : "hakmem: ignoring ");
    hak_put_str(&b, table[id].name);
    hak_put_ch(&b, '=');
    hak_put_str(&b, s);
    hak_put_str(&b, " (expected ");
    put_form(&b, &table[id], rest);
    hak_put_str(&b, ")\n");
    if (b.n == sizeof b.b)
        b.b[b.n - 1] = '\n';
    hak_buf_write(2, &b);
}

/* -------------------------------------------------------------- values */
/* A number within the option's range (or brought within it when it clamps). */
static int in_range(const hak_option_t *o, double *x)
{
    if (*x < o->lo || *x > o->hi) {
        if (!o->clamp)
            return 0;
        *x = *x < o->lo ? o->lo : o->hi;
    }
    return 1;
}

/* s equals w[0..n) but for case */
static int word_is(const char *s, const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != (w[i] | 0x20) || !s[i])
            return 0;
    return s[n] == 0;
}

/* The index of s among words ("a|b|c"), or -1. */
static int word_index(const char *s, const char *words)
{
    for (int i = 0; *words; i++) {
        size_t n = 0;
        while (words[n] && words[n] != '|')
            n++;
        if (word_is(s, words, n))
            return i;
        words += n + (words[n] == '|');
    }
    return -1;
}

/* A FLAG's words (odd index: on) and a CHOICE's: the value, or a number */
static int parse_word(const hak_option_t *o, const char *s, opt_val_t *v)
{
    int i = word_index(s, o->type == HAK_OPT_FLAG ? "0|1|no|yes|false|true|off|on" : o->words);
    if (i < 0)
        return 0;
    v->u = o->type == HAK_OPT_FLAG ? (uint64_t)(i & 1) : (uint64_t)i;
    v->d = (double)v->u;
    return 1;
}

/* INT and FLAG: an exact integer into v->u; REAL: a number into v->d */
static int parse_number(const hak_option_t *o, const char *s, opt_val_t *v)
{
    int ok;
    const char *end;
    uint64_t u = 0;
    double x = o->type == HAK_OPT_REAL ? hak_parse_double(s, &end, &ok) : (double)(u = hak_parse_u64(s, &end, &ok));
    if (!ok || *end || !in_range(o, &x))
        return 0;
    v->d = x;
    v->u = x == (double)u ? u : (uint64_t)x;   /* exact unless clamped */
    return 1;
}

/* "N" for every class, or "class:N,class:N"; a bad entry in a list ends it
 * (the entries before it stay) */
static void parse_per_class(int id, const char *s)
{
    const hak_option_t *o = &table[id];
    const char *end;
    uint64_t v;
    int ok;
    hak_parse_u64(s, &end, &ok);
    if (ok && *end == 0) {
        if (!parse_number(o, s, &val[id])) {
            report(id, s, 0);
            return;
        }
        for (int c = 0; c < HAK_NCLASS; c++) {
            cls_val[id][c] = (uint32_t)val[id].u;
            cls_set[id][c] = 1;
        }
        val[id].set = 1;
        return;
    }
    for (const char *p = s; *p;) {
        uint64_t c = hak_parse_u64(p, &end, &ok);
        if (!ok || *end != ':' || c >= HAK_NCLASS)
            goto bad;
        p = end + 1;
        v = hak_parse_u64(p, &end, &ok);
        if (!ok || (double)v < o->lo || (double)v > o->hi || (*end && *end != ','))
            goto bad;
        cls_val[id][c] = (uint32_t)v;
        cls_set[id][c] = 1;
        val[id].set = 1;
        p = *end ? end + 1 : end;
    }
    return;
bad:
    report(id, s, 1);
}

static void parse_one(int id)
{
    const hak_option_t *o = &table[id];
    opt_val_t *v = &val[id];
    const char *s = hak_env(o->name);
    v->set = 0;
    v->u = (uint64_t)o->def;
    v->d = o->def;
    v->s = NULL;
    if (o->type == HAK_OPT_PER_CLASS)
        for (int c = 0; c < HAK_NCLASS; c++) {
            cls_val[id][c] = (uint32_t)o->def;
            cls_set[id][c] = 0;
        }
    if (!s || !*s)
        return;
    switch (o->type) {
    case HAK_OPT_PER_CLASS:
        parse_per_class(id, s);
        return;
    case HAK_OPT_PATH:
        v->set = strlen(s) <= HAK_PATH_MAX;
        if (v->set)
            v->s = memcpy(v->path, s, strlen(s) + 1);
        break;
    default:   /* FLAG (a word, or 0..1 clamped: non-zero is on), CHOICE (a word or its index), INT, REAL */
        v->set = (uint8_t)((o->type == HAK_OPT_FLAG || o->type == HAK_OPT_CHOICE) && parse_word(o, s, v)) ||
                 parse_number(o, s, v);
        break;
    }
    if (!v->set)
        report(id, s, 0);
}

/* Variables hakmem's own tools set (tests/run_all.sh, the launcher): not options */
static const char *const tool_vars[] = { "HAKMEM_LIB" };

static void check_known(const char *entry, void *arg)
{
    size_t n = 0;
    hak_buf_t b;
    while (entry[n] && entry[n] != '=')
        n++;
    for (int id = 0; id < HAK_OPT_N; id++)
        if (strlen(table[id].name) == n && !strncmp(table[id].name, entry, n))
            return;
    for (size_t i = 0; i < sizeof tool_vars / sizeof tool_vars[0]; i++)
        if (strlen(tool_vars[i]) == n && !strncmp(tool_vars[i], entry, n))
            return;
    hak_buf_reset(&b);
    hak_put_str(&b, "hakmem: unknown variable ");
    for (size_t i = 0; i < n && i < 200; i++)
        hak_put_ch(&b, entry[i]);
    hak_put_str(&b, " (ignored; the HAKMEM_* variables are listed in README.md)\n");
    hak_buf_write(2, &b);
}

void hak_options_parse(unsigned groups)
{
    static int scanned;
    if (!__atomic_exchange_n(&scanned, 1, __ATOMIC_RELAXED))
        hak_env_foreach("HAKMEM_", check_known, NULL);
    for (int id = 0; id < HAK_OPT_N; id++)
        if (table[id].group & groups)
            parse_one(id);
    __atomic_fetch_or(&parsed, groups, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------- getters */
static int ready(int id) { return (__atomic_load_n(&parsed, __ATOMIC_ACQUIRE) & table[id].group) != 0; }

int hak_option_set(int id) { return ready(id) && val[id].set; }

uint64_t hak_option_u64(int id) { return ready(id) ? val[id].u : (uint64_t)table[id].def; }

double hak_option_double(int id) { return ready(id) ? val[id].d : table[id].def; }

const char *hak_option_str(int id) { return ready(id) ? val[id].s : NULL; }

uint32_t hak_option_class(int id, int c) { return ready(id) ? cls_val[id][c] : (uint32_t)table[id].def; }

int hak_option_class_set(int id, int c) { return ready(id) && cls_set[id][c]; }

/* ------------------------------------------------------------ printing */
/* a number without trailing zeros: 30, 0.5, 0.125 */
static void put_real(hak_buf_t *b, double d)
{
    hak_put_fix(b, d, 3);
    while (b->n && b->b[b->n - 1] == '0')
        b->n--;
    if (b->n && b->b[b->n - 1] == '.')
        b->n--;
}

void hak_put_per_class(hak_buf_t *b, const uint32_t *v)
{
    int same = 1;
    for (int c = 1; c < HAK_NCLASS; c++)
        same &= v[c] == v[0];
    for (int c = 0; c < (same ? 1 : HAK_NCLASS); c++) {
        if (c)
            hak_put_ch(b, ',');
        if (!same) {
            hak_put_u64(b, (uint64_t)c);
            hak_put_ch(b, ':');
        }
        hak_put_u64(b, v[c]);
    }
}

void hak_option_put_value(hak_buf_t *b, int id)
{
    const hak_option_t *o = &table[id];
    switch (o->type) {
    case HAK_OPT_REAL:
        put_real(b, hak_option_double(id));
        break;
    case HAK_OPT_PATH:
        hak_put_str(b, hak_option_str(id) ? hak_option_str(id) : "");
        break;
    case HAK_OPT_CHOICE: {
        const char *w = o->words;
        for (uint64_t i = hak_option_u64(id); i && *w; w++)
            i -= *w == '|';
        for (; *w && *w != '|'; w++)
            hak_put_ch(b, *w);
        break;
    }
    case HAK_OPT_PER_CLASS: {
        uint32_t v[HAK_NCLASS];
        for (int c = 0; c < HAK_NCLASS; c++)
            v[c] = hak_option_class(id, c);
        hak_put_per_class(b, v);
        break;
    }
    default:
        hak_put_u64(b, hak_option_u64(id));
    }
}

void hak_options_print(int fd)
{
    hak_buf_t b;
    for (int id = 0; id < HAK_OPT_N; id++) {
        hak_buf_reset(&b);
        hak_put_str(&b, "hakmem: option ");
        hak_put_str(&b, table[id].name);
        hak_put_ch(&b, '=');
        hak_option_put_value(&b, id);
        if (hak_option_set(id))
            hak_put_str(&b, " (environment)");
        else if (table[id].type == HAK_OPT_PATH || id == HAK_OPT_ACE_SLOW_INTERVAL_MS)
            hak_put_str(&b, " (default: unset)");
        else
            hak_put_str(&b, " (default)");
        const char *e = hak_env(table[id].name);
        if (e && *e && !hak_option_set(id))
            hak_put_str(&b, ", the environment's value was not usable");
        hak_put_ch(&b, '\n');
        if (b.n == sizeof b.b)
            b.b[b.n - 1] = '\n';
        hak_buf_write(fd, &b);
    }
}
