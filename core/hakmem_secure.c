/* The secure build's own blocks: zero-size blocks, and realloc with its
 * checks (see hakmem_secure.h).  Empty in the default build. */
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include "hakmem_secure.h"
#include <errno.h>
#include <string.h>

#if HAK_SECURE

/* Zero-size blocks are 16-byte slots of a PROT_NONE reservation: any read or
 * write faults, and each live one has its own address.  A bitmap out of line
 * says which are in use; bits are taken and given back with atomics, so no
 * lock (and nothing to do at fork).  When every slot is taken, a request gets
 * a 1-byte block instead. */
#define ZERO_SLOTS (1u << 22)   /* 64 MiB of address space */
static char *zero_base;
static uint64_t *zero_used;
static uint32_t zero_next;      /* word to look at first */

static int zero_init(void)
{
    if (__atomic_load_n(&zero_used, __ATOMIC_ACQUIRE))
        return 1;
    char *base = hak_os_reserve((size_t)ZERO_SLOTS * 16);
    uint64_t *used = base ? hak_os_map(ZERO_SLOTS / 8) : NULL;
    if (!used) {
        if (base)
            hak_os_unmap(base, (size_t)ZERO_SLOTS * 16);
        return 0;
    }
    char *expected = NULL;
    if (!__atomic_compare_exchange_n(&zero_base, &expected, base, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        hak_os_unmap(base, (size_t)ZERO_SLOTS * 16);   /* another thread won */
        hak_os_unmap(used, ZERO_SLOTS / 8);
        while (!__atomic_load_n(&zero_used, __ATOMIC_ACQUIRE))
            ;
        return 1;
    }
    __atomic_store_n(&zero_used, used, __ATOMIC_RELEASE);
    return 1;
}

/* The slots of word w a block aligned to `align` may take (the reservation
 * is page aligned). */
static uint64_t zero_slots_ok(uint32_t w, size_t align)
{
    size_t step = align > 16 ? align / 16 : 1;   /* in slots: a power of two */
    if (step >= 64)
        return w % (step / 64) ? 0 : 1;
    uint64_t m = 0;
    for (size_t i = 0; i < 64; i += step)
        m |= 1ull << i;
    return m;
}

void *hak_zero_alloc(size_t align)
{
    if (zero_init()) {
        uint32_t words = ZERO_SLOTS / 64, w0 = __atomic_load_n(&zero_next, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < words; i++) {
            uint32_t w = (w0 + i) % words;
            uint64_t ok = zero_slots_ok(w, align), v = __atomic_load_n(&zero_used[w], __ATOMIC_RELAXED);
            while (~v & ok) {
                uint64_t bit = ~v & ok & -(~v & ok);   /* lowest free slot that may be taken */
                if (__atomic_compare_exchange_n(&zero_used[w], &v, v | bit, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                    __atomic_store_n(&zero_next, w, __ATOMIC_RELAXED);
                    return zero_base + ((size_t)w * 64 + (size_t)__builtin_ctzll(bit)) * 16;
                }
            }
        }
    }
    return NULL;
}

int hak_zero_owns(const void *p)
{
    char *base = __atomic_load_n(&zero_base, __ATOMIC_ACQUIRE);
    return base && (uintptr_t)p - (uintptr_t)base < (size_t)ZERO_SLOTS * 16;
}

int hak_zero_free(void *p)
{
    if (!hak_zero_owns(p))
        return 0;
    uintptr_t off = (uintptr_t)p - (uintptr_t)zero_base;
    if (off % 16)
        hak_report_invalid("free()", p);
    uint64_t bit = 1ull << (off / 16 % 64);
    if (!(__atomic_fetch_and(&zero_used[off / 16 / 64], ~bit, __ATOMIC_ACQ_REL) & bit))
        hak_report_double("free()", p);
    return 1;
}

/* ---- realloc ---- */

/* The requested size of a live block p (any kind); aborts on bad input. */
static size_t live_size(void *p)
{
    uintptr_t a = (uintptr_t)p;
    hak_span_t *sp = hak_span_of(a);
    if (!HAK_SPAN_LIMIT(sp)) {
        size_t n = hak_zero_owns(p) ? 0 : hak_large_request(p, "realloc()");
        if (n == SIZE_MAX)
            hak_report_invalid("realloc()", p);
        return n;
    }
    if (!hak_span_is_block(sp, a))
        hak_report_invalid("realloc()", p);
    uint16_t *e = hak_block_slack(sp, a);
    if (!*e)
        hak_report_free_block("realloc()", p);
    size_t n = sp->bsize - *e;
    if (!hak_canary_ok(p, n, *e, hak_canary_of(a)))
        hak_report_overflow("realloc()", p, n);
    return n;
}

void *hak_secure_realloc(void *p, size_t n)
{
    if (!p)
        return hak_malloc_fast(n);
    size_t old = live_size(p);
    if (n == 0) {            /* glibc: frees and returns NULL */
        hak_free_fast(p);
        return NULL;
    }
    hak_span_t *sp = hak_span_of((uintptr_t)p);
    if (HAK_SPAN_LIMIT(sp) && n + HAK_SLACK <= HAK_MID_MAX && hak_size_class(n + HAK_SLACK) == sp->cls) {
        /* the same class: the canary moves */
        uint16_t *e = hak_block_slack(sp, (uintptr_t)p);
        *e = (uint16_t)(sp->bsize - n);
        hak_canary_put(p, n, *e, hak_canary_of((uintptr_t)p));
        return p;
    }
    void *q = hak_malloc_fast(n);
    if (!q)
        return NULL;         /* errno ENOMEM; p is untouched */
    memcpy(q, p, old < n ? old : n);
    hak_free_fast(p);
    return q;
}

#endif
