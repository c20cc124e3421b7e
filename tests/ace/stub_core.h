#ifndef ACE_STUB_CORE_H
#define ACE_STUB_CORE_H
#include "hakmem_stats.h"
extern hak_snapshot_t stub_snap;
extern int stub_restore_calls;
extern size_t stub_release_empty_pages, stub_release_partial_pages;
extern int stub_release_empty_calls, stub_release_partial_calls, stub_release_cache_calls;
extern uint32_t stub_last_partial_n;
/* how the stub's hak_release_partial behaves (tests of the scavenge budget) */
enum { STUB_RELEASE_NORMAL = 0, STUB_RELEASE_PREEMPTED, STUB_RELEASE_BUSY };
extern int stub_release_mode;
void stub_knobs_defaults(void);
#endif
