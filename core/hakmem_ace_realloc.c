/* realloc: see hakmem_ace_realloc.h.  Contents are preserved on every path;
 * on failure the old block is untouched and NULL is returned with ENOMEM. */
#include "hakmem.h"
#include "hakmem_ace_realloc.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include <errno.h>
#include <string.h>

static void *move_block(void *p, size_t old, size_t n)
{
    void *q = hak_malloc_fast(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    hak_free_fast(p);
    return q;
}

void *hak_realloc(void *p, size_t n)
{
    if (!p)
        return hak_malloc_fast(n);
    if (n == 0) {            /* glibc: frees and returns NULL */
        hak_free_fast(p);
        return NULL;
    }
    uintptr_t a = (uintptr_t)p;
    if (hak_segmap_has(a)) {
        hak_span_t *sp = hak_span_of(a);
        if (!hak_span_is_block(sp, a))
            hak_report_invalid("realloc()", p);
        if (((uintptr_t *)p)[1] == (a ^ hak_secret))
            hak_report_double("realloc()", p);
        size_t bs = sp->bsize;
        /* in place while the block fits and would not waste more than half */
        if (n <= bs && (n > bs / 2 || bs <= 16))
            return p;
        return move_block(p, bs, n);
    }
    size_t old = hak_large_usable(p);
    if (!old)
        hak_report_invalid("realloc()", p);
    /* Large: mremap grows without copying and shrinks by dropping the tail;
     * only a shrink to well under half that fits Mid moves the data. */
    if (n > HAK_MID_MAX || n >= old / 2)
        return hak_large_resize(p, n);
    return move_block(p, old, n);
}
