/* hakmem public API: the allocator under its own names, usable next to the
 * system malloc (static link without overriding, or under sanitizers).
 * libhakmem.so additionally exports malloc/free/... for LD_PRELOAD. */
#ifndef HAK_PUBLIC_H
#define HAK_PUBLIC_H

#include <stddef.h>

/* The one place the version is set: the Makefile reads these three for the
 * library's file name and soname (libhakmem.so.MAJOR), pkg-config and CMake. */
#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_STR_(x) #x
#define HAKMEM_STR(x)  HAKMEM_STR_(x)
#define HAKMEM_VERSION_STRING \
    HAKMEM_STR(HAKMEM_VERSION_MAJOR) "." HAKMEM_STR(HAKMEM_VERSION_MINOR) "." HAKMEM_STR(HAKMEM_VERSION_PATCH)

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
    unsigned long long lock_waits, lock_wait_ns, pages_released, slabs_adopted;
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

#ifdef __cplusplus
}
#endif
#endif
