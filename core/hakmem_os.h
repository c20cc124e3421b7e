/* The allocator's only contact with the OS and the C library: mappings, page
 * release, time, environment, and a small formatter.  None of these allocate. */
#ifndef HAK_OS_H
#define HAK_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define HAK_OS_PAGE 4096u

#define HAK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_NOINLINE    __attribute__((noinline))

void *hak_os_map(size_t size);                          /* NULL on failure */
void *hak_os_map_aligned(size_t size, size_t align);    /* NULL on failure */
void  hak_os_unmap(void *p, size_t size);
/* Give pages back (MADV_DONTNEED): contents are gone, the range stays mapped. */
void  hak_os_release(void *p, size_t size);

uint64_t hak_now_ns(void);

/* getenv without the C library (scans environ). */
const char *hak_env(const char *name);
/* Parse an unsigned integer; returns 0 and sets *ok=0 when not a number. */
uint64_t hak_parse_u64(const char *s, const char **end, int *ok);

/* Formatter: %s %c %d %u %ld %lu %lld %llu %zu %x %lx %p and %%; width digits
 * for integers (%8lu); no allocation.  Returns the length written (truncated). */
int  hak_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
int  hak_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write a formatted line to fd 2. */
void hak_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hakmem: <message>" on stderr, then abort(). */
void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, cold));

#endif
