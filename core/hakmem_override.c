/* The malloc family under its standard names (libhakmem.so and libhakmem.a;
 * libhakmem_api.a leaves this file out), and the C side of the C++
 * operators (hakmem_new.cc).  malloc and free inline the fast paths so a
 * call is not a jump to a jump. */
#include "hakmem.h"
#include "hakmem_heap.h"
#include "hakmem_ace_realloc.h"
#include "hakmem_sized.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t n) { return hak_malloc_fast(n); }
EXPORT void free(void *p) { hak_free_fast(p); }
EXPORT void *calloc(size_t n, size_t s) { return hak_calloc(n, s); }
EXPORT void *realloc(void *p, size_t n) { return hak_realloc(p, n); }
EXPORT void *reallocarray(void *p, size_t n, size_t s) { return hak_reallocarray(p, n, s); }
EXPORT int posix_memalign(void **out, size_t a, size_t n) { return hak_posix_memalign(out, a, n); }
EXPORT void *aligned_alloc(size_t a, size_t n) { return hak_aligned_alloc(a, n); }
EXPORT void *memalign(size_t a, size_t n) { return hak_memalign(a, n); }
EXPORT void *valloc(size_t n) { return hak_valloc(n); }
EXPORT void *pvalloc(size_t n) { return hak_pvalloc(n); }
EXPORT size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
EXPORT void free_sized(void *p, size_t n) { hak_free_sized(p, n); }
EXPORT void free_aligned_sized(void *p, size_t a, size_t n) { hak_free_aligned_sized(p, a, n); }
EXPORT void cfree(void *p) { hak_free_fast(p); }

/* glibc's internal names, used by some programs and by libc itself */
EXPORT void *__libc_malloc(size_t n) { return hak_malloc_fast(n); }
EXPORT void __libc_free(void *p) { hak_free_fast(p); }
EXPORT void *__libc_calloc(size_t n, size_t s) { return hak_calloc(n, s); }
EXPORT void *__libc_realloc(void *p, size_t n) { return hak_realloc(p, n); }
EXPORT void *__libc_memalign(size_t a, size_t n) { return hak_memalign(a, n); }
EXPORT void *__libc_valloc(size_t n) { return hak_valloc(n); }
EXPORT void *__libc_pvalloc(size_t n) { return hak_pvalloc(n); }
EXPORT int __posix_memalign(void **out, size_t a, size_t n) { return hak_posix_memalign(out, a, n); }

/* glibc's extension API (hakmem_glibc.c) */
EXPORT struct mallinfo2 mallinfo2(void) { return hak_mallinfo2(); }
EXPORT struct mallinfo mallinfo(void) { return hak_mallinfo(); }
EXPORT int malloc_trim(size_t pad) { return hak_malloc_trim(pad); }
EXPORT void malloc_stats(void) { hak_malloc_stats(); }
EXPORT int malloc_info(int options, FILE *fp) { return hak_malloc_info(options, fp); }
EXPORT int mallopt(int param, int value) { return hak_mallopt(param, value); }

/* operator new / delete (hakmem_new.cc): the same paths as malloc, memalign
 * and free */
void *hak_op_new(size_t n) { return hak_malloc_fast(n); }
void *hak_op_new_aligned(size_t a, size_t n) { return hak_memalign(a, n); }
void hak_op_delete(void *p) { hak_free_fast(p); }
