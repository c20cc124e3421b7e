/* The secure build's zero-size blocks (see hakmem_secure.h).  Empty in the
 * default build. */
#include "hakmem_secure.h"
#include "hakmem_report.h"

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

#endif
