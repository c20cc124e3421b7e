/* Release passes over every heap, the abandoned spans, the Mid pool and the
 * Large cache (see hakmem_release.h). */
#include "hakmem.h"
#include "hakmem_release.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"

typedef struct { int empty_only; uint32_t pages; uint64_t deadline; size_t done; } pass_t;

static void release_heap(hak_heap_t *h, void *arg)
{
    pass_t *p = arg;
    if (hak_now_ns() < p->deadline)
        p->done += hak_tiny_release(h, p->empty_only, p->pages, p->deadline, &hak_global_counters);
}

static size_t release_all(int empty_only, uint32_t pages, uint64_t deadline)
{
    pass_t p = { empty_only, pages, deadline, 0 };
    hak_heap_foreach(release_heap, &p);
    p.done += hak_tiny_release_abandoned(empty_only, pages, deadline);
    p.done += hak_pool_release(empty_only, pages, deadline);
    if (empty_only)
        p.done += hak_large_decay(hak_now_ns());   /* cached large pieces past their decay */
    return p.done;
}

size_t hak_release_empty(uint64_t deadline_ns) { return release_all(1, 0, deadline_ns); }

size_t hak_release_partial(uint32_t pages_per_span, uint64_t deadline_ns)
{
    return release_all(0, pages_per_span, deadline_ns);
}

void hak_release_own_caches(void)
{
    hak_heap_t *h = hak_tl_heap;   /* the static empty heap has nothing cached */
    for (int c = 0; c < HAK_NCLASS; c++)
        hak_heap_flush_class(h, c);
    hak_tiny_outbox_flush_all(h);
}

size_t hak_release_free_memory(void)
{
    hak_tiny_outbox_flush_all(hak_tl_heap);
    return release_all(1, 0, UINT64_MAX) + release_all(0, UINT32_MAX, UINT64_MAX) + hak_large_release_cache();
}
