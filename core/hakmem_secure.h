/* The secure build (HAK_SECURE=1, libhakmem-secure.so): what a Tiny or Mid
 * block carries there, and the free-list links of both builds.
 *
 * A block keeps at least one byte past the request (HAK_SLACK), so a request
 * of a class's size takes the next class.  Its exact size is out of line:
 * span->sizes[index] holds the slack (bsize - n, 1 .. 65535) while the block
 * is in use and 0 while it is free, so the mark of a free block is no longer
 * in the block.  The first bytes of the slack, up to 8, hold a canary
 * derived from the block's address and the secret, checked at free and
 * realloc: an overflow by one byte is caught.  The slot's last word holds the
 * same canary whenever it is not the caller's (a block in use with 16 bytes
 * of slack or more, a free block of 32 bytes or more), checked at free and at
 * hand-out: an underflow out of the next block is caught too.
 *
 * A free block's first two words are a link: w0 = next ^ address ^ key,
 * w1 = ~w0.  Every read of a link checks the pair, so a write after free into
 * them aborts instead of handing out a forged pointer, and a block taken off
 * a magazine is checked the same way before it is handed out.  The default
 * build links through the first word, unencoded. */
#ifndef HAK_SECURE_H
#define HAK_SECURE_H

#include <stdint.h>
#include <stddef.h>
#include "hakmem_segment.h"

#ifndef HAK_SECURE
#define HAK_SECURE 0
#endif

#define HAK_HIDDEN __attribute__((visibility("hidden")))   /* PC-relative access, no GOT */
/* The random keys, set by hak_init and read-only after it (mprotect): a
 * page of their own, so the fast paths still load one PC-relative word. */
typedef struct hak_secrets {
    uintptr_t free_mark;   /* default: mark of a free block, word[1] == addr ^ free_mark; secure: the links' key */
    uintptr_t canary;      /* secure: the canaries' key */
    char pad[HAK_OS_PAGE - 2 * sizeof(uintptr_t)];
} __attribute__((aligned(HAK_OS_PAGE))) hak_secrets_t;
extern hak_secrets_t hak_secrets HAK_HIDDEN;

#if HAK_SECURE
#define HAK_SLACK 1

/* A free block's links were written over. */
void hak_report_corrupt(const char *call, const void *p) __attribute__((noreturn, cold));
/* The canary past the request of a block was written over. */
void hak_report_overflow(const char *call, const void *p, size_t n) __attribute__((noreturn, cold));

/* A free() of a block that is not in use: a double free or a block never
 * handed out, told apart by its link pair. */
void hak_report_free_block(const char *call, const void *p) __attribute__((noreturn, cold));

/* Zero-size blocks (hakmem_zero.c): distinct addresses in PROT_NONE memory. */
void *hak_zero_alloc(size_t align);   /* align <= 4096 */
int   hak_zero_owns(const void *p);
/* 1 when p was a zero-size block in use (now free); aborts on a double free. */
int   hak_zero_free(void *p);

static inline void hak_link_set(void *p, void *next)
{
    uintptr_t w = (uintptr_t)next ^ (uintptr_t)p ^ hak_secrets.free_mark;
    ((uintptr_t *)p)[0] = w;
    ((uintptr_t *)p)[1] = ~w;
}

/* The pair intact? (a block on a magazine, before it is handed out) */
static inline void hak_link_check(const void *p, const char *call)
{
    const uintptr_t *w = p;
    if (__builtin_expect(w[1] != ~w[0], 0))
        hak_report_corrupt(call, p);
}

static inline void *hak_link_get(const void *p)
{
    hak_link_check(p, "malloc()");
    return (void *)(((const uintptr_t *)p)[0] ^ (uintptr_t)p ^ hak_secrets.free_mark);
}

static inline uint64_t hak_canary_of(uintptr_t a)
{
    return (a * 0x9E3779B97F4A7C15ull) ^ hak_secrets.canary;
}

static inline uint64_t hak_load64(const void *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);   /* one unaligned load, no call (the library guards memcpy) */
    return v;
}

static inline void hak_store64(void *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

/* The slot's last word, k, for a free block of bsize bytes (the link covers
 * a 16-byte one). */
static inline void hak_tail_put(void *p, uint32_t bsize, uint64_t k)
{
    if (bsize >= 32)
        hak_store64((char *)p + bsize - 8, k);
}

static inline int hak_tail_ok(const void *p, uint32_t bsize, uint64_t k)
{
    return bsize < 32 || hak_load64((const char *)p + bsize - 8) == k;
}

/* Blocks taken from a span's bitmap carry no link yet: a NULL one and the
 * tail, so the checks at hand-out hold. */
static inline void hak_links_fresh(void *const *blocks, uint32_t n, uint32_t bsize)
{
    for (uint32_t i = 0; i < n; i++) {
        hak_link_set(blocks[i], NULL);
        hak_tail_put(blocks[i], bsize, hak_canary_of((uintptr_t)blocks[i]));
    }
}

/* The canary k of a block of n bytes in use: the 8 bytes after the request
 * (with less slack, the slack's bytes of the slot's last word, read and
 * written back whole: no loop), and the slot's last word when the slack
 * holds both. */
static inline uint64_t hak_short_mask(size_t slack) { return ~0ull << (8 * (8 - slack)); }

static inline void hak_canary_put(void *p, size_t n, size_t slack, uint64_t k)
{
    char *e = (char *)p + n;
    if (__builtin_expect(slack >= 8, 1)) {
        hak_store64(e, k);
        if (slack >= 16)
            hak_store64(e + slack - 8, k);
        return;
    }
    uint64_t m = hak_short_mask(slack);
    hak_store64(e + slack - 8, (hak_load64(e + slack - 8) & ~m) | (k & m));
}

static inline int hak_canary_ok(const void *p, size_t n, size_t slack, uint64_t k)
{
    const char *e = (const char *)p + n;
    if (__builtin_expect(slack >= 8, 1))
        return (hak_load64(e) ^ k) == 0 && (slack < 16 || hak_load64(e + slack - 8) == k);
    return ((hak_load64(e + slack - 8) ^ k) & hak_short_mask(slack)) == 0;
}

/* The block's entry in its span's size map. */
static inline uint16_t *hak_block_slack(const hak_span_t *sp, uintptr_t a)
{
    return &sp->sizes[hak_span_index(sp, a)];
}

/* A block off a magazine becomes a block of n bytes in use. */
static inline void hak_block_hand_out(const hak_span_t *sp, void *p, size_t n)
{
    uint16_t *e = hak_block_slack(sp, (uintptr_t)p);
    uint64_t k = hak_canary_of((uintptr_t)p);
    uint32_t bsize = sp->bsize;
    hak_link_check(p, "malloc()");
    if (__builtin_expect(*e != 0 || !hak_tail_ok(p, bsize, k), 0))
        hak_report_corrupt("malloc()", p);   /* on a magazine twice, or written below the next block */
    ((uintptr_t *)p)[0] = 0;                 /* the link words carry the secret: not the caller's */
    ((uintptr_t *)p)[1] = 0;
    size_t slack = bsize - n;
    *e = (uint16_t)slack;
    hak_canary_put(p, n, slack, k);
}

/* A block in use (its entry e nonzero) becomes free: canary checked, entry
 * cleared, a NULL link and the tail written. */
static inline void hak_block_retire(void *p, uint16_t *e, uint32_t bsize, const char *call)
{
    size_t slack = *e, n = bsize - slack;
    uint64_t k = hak_canary_of((uintptr_t)p);
    if (__builtin_expect(!hak_canary_ok(p, n, slack, k), 0))
        hak_report_overflow(call, p, n);
    *e = 0;
    hak_link_set(p, NULL);
    hak_tail_put(p, bsize, k);
}

/* The requested size of a block in use. */
static inline size_t hak_block_size(const hak_span_t *sp, uintptr_t a)
{
    return sp->bsize - *hak_block_slack(sp, a);
}

#else
#define HAK_SLACK 0

static inline void hak_link_set(void *p, void *next) { *(void **)p = next; }
static inline void *hak_link_get(const void *p) { return *(void *const *)p; }
static inline void hak_links_fresh(void *const *blocks, uint32_t n, uint32_t bsize) { (void)blocks; (void)n; (void)bsize; }
#endif

#endif
