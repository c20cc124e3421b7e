/* realloc: see hakmem_ace_realloc.h.  Contents are preserved on every path;
 * on failure the old block is untouched and NULL is returned with ENOMEM. */
#define _GNU_SOURCE
#include "hakmem.h"
#include "hakmem_ace_realloc.h"
#include "hakmem_heap.h"
#include "hakmem_large.h"
#include <errno.h>
#include <string.h>
#include <immintrin.h>


/* ---- copy strategy ---- */

static int nt_avx2 = -1;     /* -1: not probed yet (racing probes agree; atomic for TSan) */

static void nt_copy_sse2(unsigned char *d, const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_stream_si128((__m128i *)(d + i), a);
        _mm_stream_si128((__m128i *)(d + i + 16), b);
        _mm_stream_si128((__m128i *)(d + i + 32), c);
        _mm_stream_si128((__m128i *)(d + i + 48), e);
    }
    _mm_sfence();
    memcpy(d + i, s + i, n - i);
}

__attribute__((target("avx2")))
static void nt_copy_avx2(unsigned char *d, const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 96));
        _mm256_stream_si256((__m256i *)(d + i), a);
        _mm256_stream_si256((__m256i *)(d + i + 32), b);
        _mm256_stream_si256((__m256i *)(d + i + 64), c);
        _mm256_stream_si256((__m256i *)(d + i + 96), e);
    }
    _mm_sfence();
    memcpy(d + i, s + i, n - i);
}

void hak_realloc_copy(void *dst, const void *src, size_t n)
{
    if (HAK_LIKELY(n < HAK_NT_COPY_MIN)) {
        memcpy(dst, src, n);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    /* align the destination for the streaming stores (blocks are 16-aligned;
     * 32 for AVX2) */
    size_t head = (32 - ((uintptr_t)d & 31)) & 31;
    memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    int avx2 = __atomic_load_n(&nt_avx2, __ATOMIC_RELAXED);
    if (avx2 < 0) {
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&nt_avx2, avx2, __ATOMIC_RELAXED);
    }
    if (avx2)
        nt_copy_avx2(d, s, n);
    else
        nt_copy_sse2(d, s, n);
}

/* ---- moving a block ---- */

/* Where a moved block goes: the class of its size, a Large block (a copy
 * after mremap was refused), or a mapping of its own (growth past the
 * border: its next steps are mremap, no copies). */
enum { TO_CLASS, TO_LARGE, TO_MAPPING };

static void *alloc_to(size_t n, int to)
{
    return to == TO_CLASS ? hak_malloc_fast(n) : to == TO_LARGE ? hak_large_alloc(n, 0, 0) : hak_large_alloc_mapping(n);
}

/* Allocate `want` bytes (falling back to exactly n) where `to` says, copy
 * `keep` bytes of p, free p.  On failure p is untouched and errno is ENOMEM. */
static HAK_NOINLINE void *move_block(void *p, size_t keep, size_t n, size_t want, int to)
{
    void *q = alloc_to(want, to);
    if (!q && want != n)
        q = alloc_to(n, to);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    if (keep >= (64u << 10) && (to != TO_CLASS || want > HAK_MID_MAX || n > HAK_MID_MAX))
        /* a Large block, maybe fresh pages: one system call faults the copied
         * range in, about 25% cheaper than a page fault per 4 KiB
         * (docs/REALLOC.md) */
        hak_os_populate((void *)((uintptr_t)q & ~(uintptr_t)(HAK_OS_PAGE - 1)),
                        (keep + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1));
    hak_realloc_copy(q, p, keep);
    hak_free_fast(p);
    return q;
}

/* Growth target of a Tiny/Mid block of class size bs asked to hold n > bs. */
static inline size_t grow_target(size_t bs, size_t n)
{
    if (n >= HAK_REALLOC_BORDER || n >= 2 * bs)
        return n;                      /* a jump (doubling, or out of Mid): exact */
    size_t want = 2 * bs;              /* small step: headroom (docs/REALLOC.md) */
    if (want < n)
        want = n;
    return want > HAK_MID_MAX ? HAK_MID_MAX : want;
}

static HAK_NOINLINE void *realloc_large(void *p, size_t n)
{
    size_t old = hak_large_usable(p);
    if (!old)
        hak_report_invalid("realloc()", p);
    if (n > old) {
        /* small steps get 1/8 headroom: untouched pages cost address space only */
        size_t want = n;
        if (n - old < old / 8 && old + old / 8 > n)
            want = old + old / 8;
        void *q = hak_large_resize(p, want);
        if (!q && want != n)
            q = hak_large_resize(p, n);
        if (q)
            return q;
        /* mremap refused (e.g. the map count limit): a copy, if memory allows */
        return move_block(p, old, n, n, TO_LARGE);
    }
    if (old - n < old / 8)
        return p;                      /* saving a little: nothing to do */
    if (n < HAK_REALLOC_BORDER / 2 && n <= old / 2)
        return move_block(p, n, n, n, TO_CLASS); /* well below the border: into Mid/Tiny */
    void *q = hak_large_resize(p, n);  /* in place; the tail is a freed piece */
    return q ? q : p;                  /* a failed shrink keeps the block: still valid */
}

/* ---- the secure build: checked, exact sizes ---- */

#if HAK_SECURE

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

static void *realloc_secure(void *p, size_t n)
{
    if (!p)
        return hak_malloc_fast(n);
    size_t old = live_size(p);
    if (n == 0) {            /* glibc: frees and returns NULL */
        hak_free_fast(p);
        return NULL;
    }
    hak_span_t *sp = hak_span_of((uintptr_t)p);
    size_t bs = sp->bsize;
    if (!HAK_SPAN_LIMIT(sp)) {
        if (old && hak_large_set_request(p, n))
            return p;         /* within its pages: the canary and trailer move */
    } else if (n < bs && (n >= bs / 2 || bs <= 16) && bs - n <= UINT16_MAX) {   /* a byte of slack stays */
        /* in place while the block would not waste more than half: the canary moves */
        uint16_t *e = hak_block_slack(sp, (uintptr_t)p);
        *e = (uint16_t)(bs - n);
        hak_canary_put(p, n, *e, hak_canary_of((uintptr_t)p));
        return p;
    }
    void *q = NULL;
    if (HAK_SPAN_LIMIT(sp) && n > old && n < HAK_REALLOC_BORDER - HAK_SLACK) {
        /* growth with the default's headroom: the class of the target, the exact size */
        size_t want = grow_target(bs, n + HAK_SLACK);
        int c = want <= HAK_MID_MAX ? hak_size_class(want) : -1;
        if (c >= 0 && hak_class_size[c] - n <= UINT16_MAX)
            q = hak_alloc_class((uintptr_t)c, n);
    }
    if (!q)
        q = hak_malloc_fast(n);
    if (!q)
        return NULL;         /* errno ENOMEM; p is untouched */
    memcpy(q, p, old < n ? old : n);
    hak_free_fast(p);
    return q;
}
#endif

void *hak_realloc(void *p, size_t n)
{
#if HAK_SECURE
    return realloc_secure(p, n);
#endif
    if (!p)
        return hak_malloc_fast(n);
    if (n == 0) {            /* glibc: frees and returns NULL */
        hak_free_fast(p);
        return NULL;
    }
    uintptr_t a = (uintptr_t)p;
    hak_span_t *sp = hak_span_of(a);
    if (HAK_UNLIKELY(!HAK_SPAN_LIMIT(sp)))      /* no span here: the page heap, or a mapping */
        return realloc_large(p, n);
    if (HAK_UNLIKELY(!hak_span_is_block(sp, a)))
        hak_report_invalid("realloc()", p);
    if (HAK_UNLIKELY(((uintptr_t *)p)[1] == (a ^ hak_secrets.free_mark)))
        hak_report_double("realloc()", p);
    size_t bs = sp->bsize;
    if (HAK_LIKELY(n <= bs)) {
        /* in place while the block would not waste more than half */
        if (n >= bs / 2 || bs <= 16)
            return p;
        return move_block(p, n, n, n, TO_CLASS);
    }
    if (HAK_UNLIKELY(n > PTRDIFF_MAX)) {   /* impossible: keep the block */
        errno = ENOMEM;
        return NULL;
    }
    /* past the border a growing block gets its own mapping, so the next
     * steps are mremap or a join with the cached piece after it, not copies;
     * within a bounded number of mappings (vm.max_map_count) */
    int to = n >= HAK_REALLOC_BORDER && hak_large_room() ? TO_MAPPING : TO_CLASS;
    return move_block(p, bs, n, grow_target(bs, n), to);
}
