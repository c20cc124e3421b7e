/* The allocator's only contact with the OS and the C library, for the core and
 * ACE alike: mappings, page release, time, threads, small files under /proc
 * and /sys, perf counters, the environment, and a small formatter.
 *
 * None of these allocate (raw syscalls or non-allocating libc calls only), so
 * any of them may be called from inside malloc.  The one exception is
 * hak_os_spawn_detached (pthread_create allocates through the allocator): call
 * it outside every allocator lock. */
#ifndef HAK_OS_H
#define HAK_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define HAK_OS_PAGE 4096u

#define HAK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_NOINLINE    __attribute__((noinline))

/* ---- mappings */
/* Read-write anonymous memory, charged to the commit limit (the kernel's
 * overcommit policy applies as for glibc); NULL on failure. */
void *hak_os_map(size_t size);
void *hak_os_map_aligned(size_t size, size_t align);    /* NULL on failure */
void  hak_os_unmap(void *p, size_t size);
/* Address space only: PROT_NONE, not charged to the commit limit. */
void *hak_os_reserve(size_t size);
/* Give pages back (MADV_DONTNEED): contents are gone, the range stays mapped.
 * Every call is counted, with the time it took, process-wide: what keeping a
 * free page saves (hak_os_release_calls, hak_os_release_ns). */
void  hak_os_release(void *p, size_t size);
extern uint64_t hak_os_release_calls, hak_os_release_ns;
size_t hak_os_page_size(void);                          /* the OS page size */

/* ---- time */
uint64_t hak_now_ns(void);                              /* CLOCK_MONOTONIC */
uint64_t hak_os_thread_cpu_ns(void);                    /* CPU time of the calling thread */
uint64_t hak_os_process_cpu_ns(void);                   /* CPU time of the whole process */
/* What giving a free page back costs when the page is used again: time a
 * private mapping of `pages` pages through touch, MADV_DONTNEED, touch.
 * *release_ns: the madvise per page; *fault_ns: the second touch per page
 * (a fault and a zeroed page).  0 and 0 when the mapping fails. */
void     hak_os_page_costs(uint32_t pages, uint64_t *release_ns, uint64_t *fault_ns);
/* Sleep until hak_now_ns() reaches t (absolute; EINTR resumes the sleep). */
void     hak_os_sleep_until(uint64_t t);

/* ---- process and threads */
int hak_os_getpid(void);
int hak_os_gettid(void);
uint64_t hak_os_minor_faults(void);   /* minor page faults of the process so far (getrusage) */
/* Call fn(tid, arg) for every thread of this process (/proc/self/task) until
 * one returns non-zero.  Returns that value, 0 when every thread was visited,
 * -1 when the thread list cannot be read. */
int hak_os_foreach_task(int (*fn)(int tid, void *arg), void *arg);
/* 1 while thread tid of this process runs or sleeps (not a zombie, not gone). */
int hak_os_task_alive(int tid);
/* Start fn(arg) on a detached thread with the given stack size; 0 on success.
 * Allocates (pthread_create): never call it under an allocator lock. */
int hak_os_spawn_detached(void *(*fn)(void *), void *arg, size_t stack);
/* mremap: the new address, or NULL (errno set by the kernel).  With align
 * above the page size the result is a multiple of align (in place when p is
 * one and the range can grow there, else moved). */
void *hak_os_remap(void *p, size_t old, size_t size, size_t align);
/* Move [p, p + old) to a fresh place of size bytes, a multiple of align
 * (mremap into a reservation of its own, never grown in place over a
 * neighbour): the new address, or NULL (errno set).  [p, p + old) is
 * unmapped afterwards. */
void *hak_os_remap_away(void *p, size_t old, size_t size, size_t align);
/* Map [p, p + size) read-write where nothing is mapped (MAP_FIXED_NOREPLACE);
 * 0, or -1 when something else is mapped there now. */
int   hak_os_map_fixed(void *p, size_t size);
/* ---- protection */
enum { HAK_OS_PROT_NONE, HAK_OS_PROT_READ, HAK_OS_PROT_RW };
/* mprotect [p, p + size) (OS pages): 0, or -1 when the OS refuses (making
 * pages read-write charges them to the commit limit; splitting a mapping may
 * pass vm.max_map_count).  Calls are counted (hak_os_protect_calls). */
int   hak_os_protect(void *p, size_t size, int prot);
extern uint64_t hak_os_protect_calls;
/* An aligned mapping with no access (PROT_NONE): nothing is charged to the
 * commit limit until hak_os_protect makes pages of it read-write (no
 * MAP_NORESERVE, so they are charged then under every overcommit policy).
 * NULL on failure. */
void *hak_os_reserve_aligned(size_t size, size_t align);
/* size bytes read-write between two PROT_NONE guard pages: the block ends
 * where the rear guard page starts, and an OS page boundary lies at most one
 * page below it, after the front guard (size a multiple of the alignment the
 * caller needs, which must divide the OS page).  NULL on failure. */
void *hak_os_map_guarded(size_t size);

/* Transparent huge pages for a range: MADV_HUGEPAGE (on) or MADV_NOHUGEPAGE. */
void  hak_os_hugepages(void *p, size_t size, int on);
/* Fault a range in writable with one call (MADV_POPULATE_WRITE); 0 on success. */
int   hak_os_populate(void *p, size_t size);
/* pthread_atfork (may allocate: outside every allocator lock). */
int hak_os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));
/* The kernel's 16 random bytes for this process (AT_RANDOM); 0s if absent. */
void hak_os_auxv_random(uint64_t out[2]);

/* ---- files */
/* Read up to cap-1 bytes of a small file and NUL-terminate; bytes read, or -1
 * when it cannot be opened. */
long hak_os_read_file(const char *path, char *buf, size_t cap);
/* Create or truncate a file for writing (close-on-exec, mode 0644): the
 * descriptor, or -errno. */
int  hak_os_open_write(const char *path);
/* Write all n bytes (short writes and EINTR retried); 0, or -1 on an error. */
int  hak_os_write_all(int fd, const void *p, size_t n);
void hak_os_close(int fd);
uint64_t hak_os_rss_bytes(void);   /* resident set size (/proc/self/statm); 0 if unknown */
uint64_t hak_os_llc_bytes(void);   /* last-level cache size of cpu0 (sysfs); 0 if unknown */

/* ---- perf counters (per thread, user space only) */
enum { HAK_OS_PERF_LLC_MISSES, HAK_OS_PERF_LLC_REFS };
/* Open a counter of `event` for thread tid (0: the calling thread): the
 * descriptor, or -errno (ENOENT where the machine has no PMU). */
int hak_os_perf_open(int tid, int event);
/* Read a counter's value: 1 on success. */
int hak_os_perf_read(int fd, uint64_t *v);

/* ---- environment and numbers */
/* getenv without the C library (scans environ). */
const char *hak_env(const char *name);
/* Call fn("NAME=value", arg) for every environment entry that starts with prefix. */
void hak_env_foreach(const char *prefix, void (*fn)(const char *entry, void *arg), void *arg);
/* Parse a decimal unsigned integer; *ok = 0 when there is no digit or it
 * overflows 64 bits.  *end (if end) is set after the digits. */
uint64_t hak_parse_u64(const char *s, const char **end, int *ok);
/* Parse a decimal number with an optional fraction ("30", "0.5", ".25", "1.");
 * no sign, no exponent; *ok = 0 when there is no digit. */
double hak_parse_double(const char *s, const char **end, int *ok);

/* ---- formatting
 * hak_vfmt: %s %c %d %u %ld %lu %lld %llu %zu %x %lx %p and %%; width digits
 * for integers (%8lu); no allocation.  Returns the length written (truncated). */
int  hak_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
int  hak_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write a formatted line to fd 2. */
void hak_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hakmem: <message>" on stderr, then abort(). */
void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, cold));

/* A line builder for output a format string cannot say (fixed-point
 * decimals): pieces are appended, whatever does not fit in b[] is dropped. */
typedef struct hak_buf { char b[1024]; uint32_t n; } hak_buf_t;
void hak_buf_reset(hak_buf_t *b);
void hak_put_ch(hak_buf_t *b, char ch);
void hak_put_str(hak_buf_t *b, const char *s);
void hak_put_u64(hak_buf_t *b, uint64_t v);
void hak_put_i64(hak_buf_t *b, int64_t v);
void hak_put_fix(hak_buf_t *b, double v, int decimals);   /* fixed point, rounded */
void hak_buf_write(int fd, const hak_buf_t *b);           /* hak_os_write_all */

#endif
