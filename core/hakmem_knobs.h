/* The one runtime knob table ACE turns.  Knobs are read only on
 * slow paths (refill, flush, drain, release); writers store relaxed atomics so
 * values may change while threads run.  A knob given by its static override
 * (HAKMEM_TLS_CAP, ...) is marked fixed and ACE must leave it alone. */
#ifndef HAK_KNOBS_H
#define HAK_KNOBS_H

#include <stdint.h>
#include "hakmem_size_class.h"

/* The ranges in brackets are what the static overrides accept (the option
 * table, hakmem_options.c); ACE moves a knob only among its candidates, a
 * narrower set (hakmem_ace_controller.h). */
typedef struct hak_knobs {
    uint32_t tls_cap[HAK_NCLASS];          /* magazine capacity [1, HAK_MAG_MAX] */
    uint32_t drain_threshold[HAK_NCLASS];  /* remote backlog that makes the owner drain [1, 2^20] */
    uint32_t bundle_width;                 /* blocks moved per central free list transfer [1, 1024] */
    uint32_t partial_release_pages;        /* OS pages released per partly used span per pass [0, 512] */
    uint32_t diet_permille;                /* TLS diet factor x1000 [100, 1000] */
    /* when pages go back: a span at most 1/sparse_div used, while its list
     * shrank by more than shrink_min blocks in a period, gives back the pages
     * under returned blocks (hakmem_segment.h) */
    uint32_t sparse_div;                   /* [1, 64] */
    uint32_t shrink_min;                   /* [0, 2^20] */
    uint32_t large_cache_mb;               /* freed Large bytes kept resident, MiB [0, 2^20] */
    uint32_t hold_ms;                      /* hold time of a freed Large range and of a released
                                              span page's reuse count, ms [0, 3600000] */
    uint8_t  fixed_tls_cap[HAK_NCLASS];    /* 1 = set by HAKMEM_TLS_CAP, ACE must not move it */
    uint8_t  fixed_drain[HAK_NCLASS];
    uint8_t  fixed_bundle, fixed_partial, fixed_diet;
    uint8_t  fixed_sparse, fixed_shrink, fixed_large_cache, fixed_hold;
} hak_knobs_t;

extern hak_knobs_t hak_knobs;           /* live values */
extern hak_knobs_t hak_knobs_static;    /* defaults + static overrides, set at init */

#define HAK_KNOB_GET(f)     __atomic_load_n(&hak_knobs.f, __ATOMIC_RELAXED)
#define HAK_KNOB_SET(f, v)  __atomic_store_n(&hak_knobs.f, (v), __ATOMIC_RELAXED)

/* Parse the core options (HAKMEM_TLS_CAP ... HAKMEM_STATS, hakmem_options.h)
 * and set the static values from them: the first step of initialisation. */
void hak_knobs_init(void);
/* Put the static values (defaults or overrides) back: ACE's safety valve. */
void hak_knobs_restore_static(void);
/* Magazine capacity a thread uses for class c: tls_cap x diet, bounded by the
 * class's byte budget, at least 1, at most HAK_MAG_MAX. */
uint32_t hak_knobs_effective_cap(int c);
/* One line per knob on fd: "hakmem: knob NAME=value (default|fixed)"; a
 * default one is ACE's to tune when ACE runs. */
void hak_knobs_print(int fd);

#endif
