/* hakmem public API: the allocator under its own names, usable next to the
 * system malloc (static link without overriding, or under sanitizers).
 * libhakmem.so additionally exports malloc/free/... for LD_PRELOAD. */
#ifndef HAK_PUBLIC_H
#define HAK_PUBLIC_H

#include <stddef.h>
#include <stdio.h>
#include <malloc.h>   /* struct mallinfo, struct mallinfo2, M_* */

/* The one place the version is set: the Makefile reads these three for the
 * library's file name and soname (libhakmem.so.MAJOR), pkg-config and CMake. */
#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAK_STRINGIFY_(x) #x
#define HAK_STRINGIFY(x)  HAK_STRINGIFY_(x)
#define HAKMEM_VERSION_STRING \
    HAK_STRINGIFY(HAKMEM_VERSION_MAJOR) "." HAK_STRINGIFY(HAKMEM_VERSION_MINOR) "." HAK_STRINGIFY(HAKMEM_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

#define HAK_API __attribute__((visibility("default")))

HAK_API void  *hak_malloc(size_t size);
HAK_API void   hak_free(void *ptr);
HAK_API void  *hak_calloc(size_t n, size_t size);
HAK_API void  *hak_realloc(void *ptr, size_t size);
HAK_API void  *hak_reallocarray(void *ptr, size_t n, size_t size);
HAK_API int    hak_posix_memalign(void **out, size_t alignment, size_t size);
HAK_API void  *hak_aligned_alloc(size_t alignment, size_t size);
HAK_API void  *hak_memalign(size_t alignment, size_t size);
HAK_API void  *hak_valloc(size_t size);
HAK_API void  *hak_pvalloc(size_t size);
HAK_API size_t hak_malloc_usable_size(const void *ptr);
HAK_API void   hak_free_sized(void *ptr, size_t size);
HAK_API void   hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Statistics: totals summed over all threads without locks. */
typedef struct hak_public_stats {
    unsigned long long allocs, frees, refills, flushes, remote_frees, drains;
    unsigned long long lock_waits, lock_wait_ns, pages_released, spans_adopted;
    unsigned long long bytes_held;  /* bytes of pages held from the OS (resident or not yet released) */
    unsigned long long bytes_live;  /* bytes in blocks handed out and not yet freed (block sizes) */
    unsigned long long remote_backlog;  /* Tiny blocks freed by other threads, not yet back in their spans */
} hak_public_stats_t;
HAK_API void hak_get_stats(hak_public_stats_t *out);
/* Print per-class and total statistics to stderr (what HAKMEM_STATS=1 prints at exit). */
HAK_API void hak_print_stats(void);
/* Return every free page the allocator can release now (empty spans, free pages
 * inside partly used spans, cached large mappings), after collecting the
 * frees other threads sent to every heap's spans and sending on the caller's
 * own gathered remote frees.  Returns pages released. */
HAK_API size_t hak_release_free_memory(void);
/* The library's version, HAKMEM_VERSION_STRING of the header it was built
 * with (compare with the macro to check the header matches the library). */
HAK_API const char *hak_version(void);
/* The statistics HAKMEM_STATS=json prints at exit, as one JSON object, at any
 * time: {"classes":[{"class":..,"size":..,"allocs":..,...},...],"total":{...}}.
 * Returns the length it needed (snprintf-style; buf is NUL-terminated when
 * len > 0).  Takes no lock a running malloc may wait on and allocates
 * nothing.  Cost: called every 1 ms from a third thread it slows a 2-thread
 * malloc/free workload on 2 cores by at most 1.9 % (the polling thread's CPU share,
 * 0.9 % of it its 1 ms wake-ups; the call is 13-15 us; docs/history/stats-polling.md). */
HAK_API size_t hak_stats_json(char *buf, size_t len);

/* glibc's extension API with hakmem's figures; libhakmem.so and libhakmem.a
 * export the same under glibc's names (mallinfo2, mallinfo, malloc_trim,
 * malloc_stats, malloc_info, mallopt).  None takes a lock across stdio.
 *
 * mallinfo2 (read from the counters, no lock taken):
 *   arena     bytes of span pages held from the OS for Tiny and Mid blocks
 *             (<= 256 KiB; pages given back are not counted)
 *   ordblks   free Tiny and Mid blocks in those spans (blocks cached in
 *             magazines and central lists count as free)
 *   smblks    of those, free Tiny blocks (<= 1 KiB: glibc's fastbins)
 *   fsmblks   bytes of the free Tiny blocks
 *   hblks     live Large blocks (> 256 KiB), each a mapping or a piece of one
 *   hblkhd    bytes of the live Large blocks (page-rounded)
 *   uordblks  bytes of live Tiny and Mid blocks (block sizes)
 *   fordblks  arena - uordblks: free blocks and span tails held
 *   keepcost  bytes of freed Large blocks kept resident in the Large cache
 *             (malloc_trim or HAKMEM_LARGE_DECAY_MS gives them back)
 *   usmblks   0, as glibc
 * mallinfo: the same, each field saturating at INT_MAX.
 * malloc_trim(pad): flushes the calling thread's magazines and gives back
 *   every free page (hak_release_free_memory); pad is ignored.  1 when pages
 *   went back to the OS, else 0.
 * malloc_stats: the HAKMEM_STATS=1 text on stderr.
 * malloc_info(0, fp): glibc's XML, one heap (spans are shared between
 *   threads); options != 0: returns EINVAL (and sets errno), as glibc 2.36.
 * mallopt(param, value): 1 where honoured, else 0 (nothing changes):
 *   M_TRIM_THRESHOLD  value >= 0: bytes of freed Large blocks the Large cache
 *                     keeps (replaces HAKMEM_LARGE_CACHE_MB)
 *   M_MMAP_THRESHOLD  value >= 0: a freed Large block of at least value bytes
 *                     is unmapped at once instead of cached (every one when
 *                     value <= 256 KiB); blocks above 256 KiB are always
 *                     mappings of their own
 *   every other parameter (M_MXFAST, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX,
 *   M_ARENA_TEST, M_PERTURB, M_CHECK_ACTION, ...): 0 */
HAK_API struct mallinfo2 hak_mallinfo2(void);
HAK_API struct mallinfo  hak_mallinfo(void);
HAK_API int  hak_malloc_trim(size_t pad);
HAK_API void hak_malloc_stats(void);
HAK_API int  hak_malloc_info(int options, FILE *fp);
HAK_API int  hak_mallopt(int param, int value);

#ifdef __cplusplus
}
#endif
#endif
