/* Test-local stand-ins for the allocator core, so ACE's own files can be
 * built and tested alone (tests/ace only; the real core is in core/).
 * The snapshot and the release functions are driven by the test. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hakmem_knobs.h"
#include "hakmem_stats.h"
#include "hakmem_release.h"
#include "hakmem_large.h"
#include "hakmem.h"
#include "hakmem_os.h"
#include "stub_core.h"

hak_knobs_t hak_knobs, hak_knobs_static;
hak_counters_t hak_global_counters;
void (*hak_refill_hook)(void);
const uint32_t hak_class_size[HAK_NCLASS] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
    20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536, 81920, 98304, 114688, 131072,
    163840, 196608, 229376, 262144
};

hak_snapshot_t stub_snap;
int stub_restore_calls;
size_t stub_release_empty_pages, stub_release_partial_pages;
int stub_release_empty_calls, stub_release_partial_calls, stub_release_cache_calls;
uint32_t stub_last_partial_n;

void stub_knobs_defaults(void)
{
    memset(&hak_knobs_static, 0, sizeof hak_knobs_static);
    for (int c = 0; c < HAK_NCLASS; c++) {
        hak_knobs_static.tls_cap[c] = 32;
        hak_knobs_static.drain_threshold[c] = 128;
    }
    hak_knobs_static.bundle_width = 32;
    hak_knobs_static.partial_release_pages = 2;
    hak_knobs_static.diet_permille = 1000;
    hak_knobs_static.sparse_div = 2;
    hak_knobs_static.shrink_min = 64;
    hak_knobs_static.large_cache_mb = 64;
    hak_knobs_static.hold_ms = 1000;
    hak_knobs = hak_knobs_static;
}

void hak_knobs_init(void) { stub_knobs_defaults(); }
void hak_knobs_restore_static(void) { stub_restore_calls++; memcpy(&hak_knobs, &hak_knobs_static, sizeof hak_knobs); }
uint32_t hak_knobs_effective_cap(int c)
{
    uint32_t v = HAK_KNOB_GET(tls_cap[c]) * HAK_KNOB_GET(diet_permille) / 1000;
    return v ? v : 1;
}
void hak_snapshot_take(hak_snapshot_t *out) { memcpy(out, &stub_snap, sizeof *out); }
size_t hak_release_empty(uint64_t deadline_ns)
{
    size_t p = stub_release_empty_pages;
    stub_release_empty_calls++;
    stub_release_empty_pages = 0;
    return p;
}
size_t hak_large_release_cache(void) { stub_release_cache_calls++; return 0; }
size_t hak_large_decay(uint64_t now) { (void)now; return 0; }
/* PREEMPTED: a thread preempted until the deadline (wall time passes, no CPU);
 * BUSY: a thread busy until the deadline (CPU time passes); 10 pages either way */
int stub_release_mode = STUB_RELEASE_NORMAL;
size_t hak_release_partial(uint32_t n, uint64_t deadline_ns)
{
    if (stub_release_mode != STUB_RELEASE_NORMAL) {
        stub_release_partial_calls++;
        if (stub_release_mode == STUB_RELEASE_PREEMPTED) {
            struct timespec ts = { (time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull) };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) { }
        } else {
            while (hak_now_ns() < deadline_ns) { }
        }
        return 10;
    }
    size_t p = stub_release_partial_pages;
    stub_release_partial_calls++;
    stub_last_partial_n = n;
    stub_release_partial_pages = 0;
    return p;
}
void *hak_malloc(size_t n) { return malloc(n); }
void hak_free(void *p) { free(p); }
