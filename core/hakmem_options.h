/* Every HAKMEM_* environment variable, in one table (hakmem_options.c):
 * name, type, default, accepted range and a one-line meaning (and a CHOICE's
 * words).  One parse
 * function reads a group of them from the environment into typed values,
 * noting which came from the environment ("fixed" for the knobs), and says
 * once on stderr when a value is unusable and what form is accepted:
 *
 *     hakmem: ignoring HAKMEM_BUNDLE_WIDTH=wide (expected an integer in 1..1024)
 *
 * A HAKMEM_* variable not in the table gets "hakmem: unknown variable
 * HAKMEM_X (ignored)" once.
 *
 * Groups: HAK_OPT_CORE (the knobs, HAKMEM_STATS*, HAKMEM_VERBOSE) is parsed by
 * hak_knobs_init() at the start of the allocator's initialisation, before
 * anything allocates; HAK_OPT_ACE each time ACE's thread is about to start
 * (the first allocation's slow path, and again in a forked child), so ACE
 * sees the environment of the moment it starts, as it always has.  Until its
 * group is parsed an option reads as its default.  Nothing here allocates. */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include <stdint.h>
#include "hakmem_size_class.h"
#include "hakmem_os.h"

/* Defaults that code outside the table also starts from (hak_knobs_init,
 * ace_config_default). */
#define HAK_PATH_MAX                   400   /* longest PATH value (bytes) */
#define HAK_DEF_TLS_CAP                64
#define HAK_DEF_DRAIN_THRESHOLD        128
#define HAK_DEF_BUNDLE_WIDTH           32
#define HAK_DEF_PARTIAL_RELEASE_PAGES  2
#define HAK_DEF_DIET_FACTOR            1.0
#define HAK_DEF_SPARSE_BLOCK_DIV       2
#define HAK_DEF_SHRINK_MIN             64
#define HAK_DEF_ACE_MEM_PRICE          0.25
#define HAK_DEF_ACE_FAST_INTERVAL_MS   500
#define HAK_DEF_ACE_SLOW_INTERVAL_S    30
#define HAK_DEF_ACE_SLICE_MS           20
#define HAK_DEF_ACE_MAX_P99_LAT_NS     10000000
#define HAK_DEF_ACE_MAX_RSS_MB         16384
#define HAK_DEF_ACE_MAX_CPU_PERCENT    5

typedef enum hak_option_id {
    HAK_OPT_TLS_CAP,                  /* per class (these two come first) */
    HAK_OPT_DRAIN_THRESHOLD,          /* per class */
    HAK_OPT_BUNDLE_WIDTH,
    HAK_OPT_PARTIAL_RELEASE_PAGES,
    HAK_OPT_DIET_FACTOR,
    HAK_OPT_STATS,
    HAK_OPT_STATS_FILE,
    HAK_OPT_VERBOSE,
    HAK_OPT_LARGE_CACHE_MB,
    HAK_OPT_LARGE_DECAY_MS,
    HAK_OPT_HUGEPAGES,
    HAK_OPT_SPARSE_BLOCK_DIV,
    HAK_OPT_SHRINK_MIN,
    HAK_OPT_ACE_ENABLED,
    HAK_OPT_ACE_FAST_INTERVAL_MS,
    HAK_OPT_ACE_SLOW_INTERVAL_S,
    HAK_OPT_ACE_SLOW_INTERVAL_MS,
    HAK_OPT_ACE_SLICE_MS,
    HAK_OPT_ACE_LOG_LEVEL,
    HAK_OPT_ACE_TRACE,
    HAK_OPT_ACE_MAX_P99_LAT_NS,
    HAK_OPT_ACE_MAX_RSS_MB,
    HAK_OPT_ACE_MAX_CPU_PERCENT,
    HAK_OPT_ACE_MEM_PRICE,
    HAK_OPT_ACE_RSS_TARGET_MB,
    HAK_OPT_ACE_IDLE_SCAVENGE_MS,
    HAK_OPT_N
} hak_option_id_t;

#define HAK_OPT_N_PER_CLASS 2

typedef enum hak_option_type {
    HAK_OPT_FLAG,       /* 0/1, no/yes, false/true, off/on (any case) */
    HAK_OPT_INT,        /* a decimal integer */
    HAK_OPT_REAL,       /* a decimal number, fractions allowed */
    HAK_OPT_PATH,       /* a file name of at most `hi` bytes */
    HAK_OPT_PER_CLASS,  /* "N" for every size class, or "class:N,class:N" */
    HAK_OPT_CHOICE,     /* one of `words` (its index is the value), or that index */
} hak_option_type_t;

enum { HAK_OPT_CORE = 1, HAK_OPT_ACE = 2 };   /* groups */

typedef struct hak_option {
    const char *name;
    uint8_t     type;      /* hak_option_type_t */
    uint8_t     group;     /* HAK_OPT_CORE or HAK_OPT_ACE */
    uint8_t     clamp;     /* 1: a number outside lo..hi is brought within it;
                              0: it is ignored (with the message) */
    double      def;       /* used while unset (PATH: none; SLOW_INTERVAL_MS: none) */
    double      lo, hi;    /* accepted range */
    const char *meaning;   /* one line, as in the README */
    const char *words;     /* CHOICE: the accepted words, '|' between them */
} hak_option_t;

/* The table entry of an option (for its name, range and meaning). */
const hak_option_t *hak_option_info(int id);

/* Read every option of the groups (a mask) from the environment.  The first
 * call also warns once about each HAKMEM_* variable the table does not know. */
void hak_options_parse(unsigned groups);
/* One line per option on fd: "hakmem: option NAME=value (default|environment)". */
void hak_options_print(int fd);

/* 1 when the option's value came from the environment (a knob so given is
 * fixed: ACE leaves it alone).  For a per-class option: any class. */
int         hak_option_set(int id);
uint64_t    hak_option_u64(int id);     /* FLAG (0 or 1), INT */
double      hak_option_double(int id);  /* REAL */
const char *hak_option_str(int id);     /* PATH; NULL when unset */
/* The value as the environment would give it (the word of a CHOICE). */
void        hak_option_put_value(hak_buf_t *b, int id);
/* A per-class value in the form the environment takes: N, or class:N,... */
void        hak_put_per_class(hak_buf_t *b, const uint32_t *v);
uint32_t    hak_option_class(int id, int c);      /* PER_CLASS: class c's value */
int         hak_option_class_set(int id, int c);  /* PER_CLASS: class c was given */

#endif
