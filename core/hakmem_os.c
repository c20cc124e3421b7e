/* OS layer: mappings, time, threads, files, perf counters, environment,
 * formatter (see hakmem_os.h).  Nothing here allocates except
 * hak_os_spawn_detached. */
#define _GNU_SOURCE
#include "hakmem_os.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

extern char **environ;

/* ------------------------------------------------------------ mappings */
/* Every mapping that will hold data is charged to the commit limit (no
 * MAP_NORESERVE), so the kernel's overcommit policy refuses what it refuses
 * glibc: malloc(1ul << 46) is ENOMEM under vm.overcommit_memory=0. */
void *hak_os_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *hak_os_reserve(size_t size)
{
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* An untouched reservation of size + align bytes (PROT_NONE, MAP_NORESERVE:
 * not charged) and, in *a, its first multiple of align; NULL on failure. */
static char *reserve_aligned(size_t size, size_t align, uintptr_t *a)
{
    if (size + align < size)
        return NULL;
    char *r = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    *a = ((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1);
    return r;
}

/* the reservation r around the block [a, a + size) goes */
static void unreserve_around(char *r, uintptr_t a, size_t size, size_t align)
{
    size_t head = a - (uintptr_t)r, tail = align - head;
    if (head)
        munmap(r, head);
    if (tail)
        munmap((char *)a + size, tail);
}

/* The alignment slack is a reservation that is never touched; only the
 * aligned block, mapped over it, is.  So the commit charge is the block's
 * size, as for an unaligned one. */
void *hak_os_map_aligned(size_t size, size_t align)
{
    uintptr_t a;
    char *r = reserve_aligned(size, align, &a);
    if (!r)
        return NULL;
    void *p = mmap((void *)a, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
        munmap(r, size + align);
        return NULL;
    }
    unreserve_around(r, a, size, align);
    return p;
}

void *hak_os_reserve_aligned(size_t size, size_t align)
{
    uintptr_t a;
    char *r = reserve_aligned(size, align, &a);
    if (!r)
        return NULL;
    /* mapped again without MAP_NORESERVE: an mprotect to read-write charges
     * the pages (under overcommit 0 and 1 too, as a read-write mapping is) */
    void *p = mmap((void *)a, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
        munmap(r, size + align);
        return NULL;
    }
    unreserve_around(r, a, size, align);
    return p;
}

uint64_t hak_os_protect_calls;

int hak_os_protect(void *p, size_t size, int prot)
{
    static const int os[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };
    __atomic_fetch_add(&hak_os_protect_calls, 1, __ATOMIC_RELAXED);
    return mprotect(p, size, os[prot]) ? -1 : 0;
}

void *hak_os_map_guarded(size_t size)
{
    size_t pg = hak_os_page_size(), len = (size + pg - 1) & ~(pg - 1);
    char *m = mmap(NULL, len + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (hak_os_protect(m + pg, len, HAK_OS_PROT_RW)) {
        munmap(m, len + 2 * pg);
        return NULL;
    }
    return m + pg + (len - size);
}

void hak_os_unmap(void *p, size_t size) { munmap(p, size); }

uint64_t hak_os_release_calls, hak_os_release_ns;

void hak_os_release(void *p, size_t size)
{
    uint64_t t0 = hak_now_ns();
    madvise(p, size, MADV_DONTNEED);
    __atomic_fetch_add(&hak_os_release_calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_os_release_ns, hak_now_ns() - t0, __ATOMIC_RELAXED);
}

void *hak_os_remap(void *p, size_t old, size_t size, size_t align)
{
    void *q = MAP_FAILED;
    if (align <= HAK_OS_PAGE || (uintptr_t)p % align == 0)
        q = mremap(p, old, size, align > HAK_OS_PAGE ? 0 : MREMAP_MAYMOVE);
    if (q != MAP_FAILED)
        return q;
    /* not aligned, or it cannot grow in place: into an aligned reservation */
    return align > HAK_OS_PAGE ? hak_os_remap_away(p, old, size, align) : NULL;
}

void *hak_os_remap_away(void *p, size_t old, size_t size, size_t align)
{
    uintptr_t a;
    align = align > HAK_OS_PAGE ? align : HAK_OS_PAGE;
    char *r = reserve_aligned(size, align, &a);
    if (!r)
        return NULL;
    void *q = mremap(p, old, size, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a);
    if (q == MAP_FAILED) {
        int e = errno;
        munmap(r, size + align);
        errno = e;
        return NULL;
    }
    unreserve_around(r, a, size, align);
    return q;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
int hak_os_map_fixed(void *p, size_t size)
{
    void *q = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (q == MAP_FAILED)
        return -1;
    if (q != p) {   /* a kernel before 4.17 takes the flag as a hint */
        munmap(q, size);
        return -1;
    }
    return 0;
}

void hak_os_hugepages(void *p, size_t size, int on) { madvise(p, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE); }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
int hak_os_populate(void *p, size_t size) { return madvise(p, size, MADV_POPULATE_WRITE); }

size_t hak_os_page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* ---------------------------------------------------------------- time */
static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hak_now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

uint64_t hak_os_thread_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
uint64_t hak_os_process_cpu_ns(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

/* Not through hak_os_release: the probe's madvise is not the allocator's. */
void hak_os_page_costs(uint32_t pages, uint64_t *release_ns, uint64_t *fault_ns)
{
    size_t len = (size_t)pages * HAK_OS_PAGE;
    volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *release_ns = *fault_ns = 0;
    if (p == MAP_FAILED || !pages)
        return;
    for (size_t i = 0; i < len; i += HAK_OS_PAGE)
        p[i] = 1;
    uint64_t t0 = hak_now_ns();
    madvise((void *)p, len, MADV_DONTNEED);
    uint64_t t1 = hak_now_ns();
    for (size_t i = 0; i < len; i += HAK_OS_PAGE)
        p[i] = 1;
    uint64_t t2 = hak_now_ns();
    munmap((void *)p, len);
    *release_ns = (t1 - t0) / pages;
    *fault_ns = (t2 - t1) / pages;
}

void hak_os_sleep_until(uint64_t t)
{
    struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* ---------------------------------------------------- process, threads */
int hak_os_getpid(void) { return (int)getpid(); }

int hak_os_gettid(void) { return (int)syscall(SYS_gettid); }

uint64_t hak_os_minor_faults(void)
{
    struct rusage ru;
    return syscall(SYS_getrusage, RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_minflt : 0;
}

struct os_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

int hak_os_foreach_task(int (*fn)(int tid, void *arg), void *arg)
{
    uint64_t buf[512];   /* 4 KiB, aligned for the records */
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = 0;
    long n;
    while (!r && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n && !r;) {
            const struct os_dirent64 *d = (const struct os_dirent64 *)((const char *)buf + off);
            const char *end;
            int ok;
            off += d->reclen;
            uint64_t tid = hak_parse_u64(d->name, &end, &ok);
            if (ok && !*end)
                r = fn((int)tid, arg);
        }
    close(fd);
    return r;
}

int hak_os_task_alive(int tid)
{
    char path[64], buf[512];
    hak_fmt(path, sizeof path, "/proc/self/task/%d/stat", tid);
    if (hak_os_read_file(path, buf, sizeof buf) <= 0)
        return 0;
    const char *p = strrchr(buf, ')');   /* "tid (comm) S ..." */
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

int hak_os_spawn_detached(void *(*fn)(void *), void *arg, size_t stack)
{
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack);
    int r = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return r ? -1 : 0;
}

/* --------------------------------------------------------------- files */
long hak_os_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long tot = 0;
    if (fd < 0)
        return -1;
    while ((size_t)tot < cap - 1) {
        ssize_t n = read(fd, buf + tot, cap - 1 - (size_t)tot);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        tot += n;
    }
    close(fd);
    buf[tot] = 0;
    return tot;
}

int hak_os_open_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int hak_os_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

void hak_os_close(int fd) { close(fd); }

uint64_t hak_os_rss_bytes(void)
{
    char buf[128];
    const char *p = buf;
    int ok;
    if (hak_os_read_file("/proc/self/statm", buf, sizeof buf) <= 0)
        return 0;
    while (*p && *p != ' ')   /* "size resident shared ..." in pages */
        p++;
    while (*p == ' ')
        p++;
    return hak_parse_u64(p, NULL, &ok) * (uint64_t)hak_os_page_size();
}

uint64_t hak_os_llc_bytes(void)
{
    char buf[64];
    const char *p;
    int ok;
    if (hak_os_read_file("/sys/devices/system/cpu/cpu0/cache/index3/size", buf, sizeof buf) <= 0)
        return 0;
    uint64_t v = hak_parse_u64(buf, &p, &ok);   /* "32768K" */
    if (*p == 'K')
        v <<= 10;
    else if (*p == 'M')
        v <<= 20;
    else if (*p == 'G')
        v <<= 30;
    return v;
}

/* ---------------------------------------------------------------- perf */
int hak_os_perf_open(int tid, int event)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = event == HAK_OS_PERF_LLC_MISSES ? PERF_COUNT_HW_CACHE_MISSES : PERF_COUNT_HW_CACHE_REFERENCES;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int hak_os_perf_read(int fd, uint64_t *v) { return read(fd, v, sizeof *v) == (ssize_t)sizeof *v; }

/* ------------------------------------------------ environment, numbers */
#ifndef HAK_SECURE
#define HAK_SECURE 0
#endif
/* The secure build reads no variable in a setuid or setgid program
 * (AT_SECURE): its options may only tune it, but the caller of such a
 * program is not to be trusted even with that (a statistics file is written
 * where HAKMEM_STATS_FILE says). */
static int env_ignored(void) { return HAK_SECURE && getauxval(AT_SECURE); }

const char *hak_env(const char *name)
{
    size_t n = strlen(name);
    if (!environ || env_ignored())
        return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

void hak_env_foreach(const char *prefix, void (*fn)(const char *entry, void *arg), void *arg)
{
    size_t n = strlen(prefix);
    if (environ && !env_ignored())
        for (char **e = environ; *e; e++)
            if (strncmp(*e, prefix, n) == 0)
                fn(*e, arg);
}

uint64_t hak_parse_u64(const char *s, const char **end, int *ok)
{
    uint64_t v = 0;
    const char *p = s;
    int over = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = 1;
        v = v * 10 + d;
    }
    *ok = p != s && !over;
    if (end)
        *end = p;
    return v;
}

double hak_parse_double(const char *s, const char **end, int *ok)
{
    double ip = 0, scale = 1;
    uint64_t frac = 0;
    const char *p = s;
    int any = 0;
    for (; *p >= '0' && *p <= '9'; p++, any = 1)
        ip = ip * 10 + (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, any = 1)
            if (scale < 1e18) {   /* later digits are below double precision */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    *ok = any;
    if (end)
        *end = p;
    return ip + (double)frac / scale;   /* one correctly rounded division */
}

/* ----------------------------------------------------------- formatter */
/* v in base 10 or 16, most significant digit first, into t: the count */
static int fmt_digits(char t[24], unsigned long long v, unsigned base)
{
    char r[24];
    int n = 0, k = 0;
    do {
        r[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        t[k++] = r[--n];
    return k;
}

typedef struct { char *buf; size_t cap, len; } fmt_out;

static void out_c(fmt_out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void out_u(fmt_out *o, unsigned long long v, unsigned base, int width, int neg)
{
    char t[24];
    int n = fmt_digits(t, v, base);
    for (int i = n + neg; i < width; i++)
        out_c(o, ' ');
    if (neg)
        out_c(o, '-');
    for (int i = 0; i < n; i++)
        out_c(o, t[i]);
}

int hak_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
    fmt_out o = { buf, cap, 0 };
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            out_c(&o, *f);
            continue;
        }
        f++;
        int width = 0, lng = 0;
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l' || *f == 'z') {
            lng++;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            size_t l = strlen(s ? s : "(null)");
            for (size_t i = l; i < (size_t)width; i++)
                out_c(&o, ' ');
            for (s = s ? s : "(null)"; *s; s++)
                out_c(&o, *s);
            break;
        }
        case 'c': out_c(&o, (char)va_arg(ap, int)); break;
        case 'd': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            out_u(&o, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 10, width, v < 0);
            break;
        }
        case 'u': out_u(&o, lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10, width, 0); break;
        case 'x': out_u(&o, lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16, width, 0); break;
        case 'p':
            out_c(&o, '0');
            out_c(&o, 'x');
            out_u(&o, (uintptr_t)va_arg(ap, void *), 16, 0, 0);
            break;
        case '%': out_c(&o, '%'); break;
        default: out_c(&o, '?'); break;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = 0;
    return (int)(o.len < cap ? o.len : cap ? cap - 1 : 0);
}

int hak_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hak_vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

static void log_v(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    size_t pl = strlen(prefix);
    memcpy(buf, prefix, pl);
    int n = hak_vfmt(buf + pl, sizeof buf - pl - 1, fmt, ap) + (int)pl;
    buf[n++] = '\n';
    hak_os_write_all(2, buf, (size_t)n);
}

void hak_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("", fmt, ap);
    va_end(ap);
}

void hak_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("hakmem: ", fmt, ap);
    va_end(ap);
    abort();
}

void hak_buf_reset(hak_buf_t *b) { b->n = 0; }

void hak_put_ch(hak_buf_t *b, char ch)
{
    if (b->n < sizeof b->b)
        b->b[b->n++] = ch;
}

void hak_put_str(hak_buf_t *b, const char *s)
{
    while (*s)
        hak_put_ch(b, *s++);
}

void hak_put_u64(hak_buf_t *b, uint64_t v)
{
    char t[24];
    int n = fmt_digits(t, v, 10);
    for (int i = 0; i < n; i++)
        hak_put_ch(b, t[i]);
}

void hak_put_i64(hak_buf_t *b, int64_t v)
{
    if (v < 0) {
        hak_put_ch(b, '-');
        hak_put_u64(b, (uint64_t)(-(v + 1)) + 1);
    } else {
        hak_put_u64(b, (uint64_t)v);
    }
}

void hak_put_fix(hak_buf_t *b, double v, int decimals)
{
    uint64_t scale = 1;
    if (v != v) {
        hak_put_str(b, "nan");
        return;
    }
    if (v < 0) {
        hak_put_ch(b, '-');
        v = -v;
    }
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    if (v > 1e15)
        v = 1e15;
    uint64_t all = (uint64_t)(v * (double)scale + 0.5);
    hak_put_u64(b, all / scale);
    if (decimals > 0) {
        char t[24];
        uint64_t fp = all % scale;
        hak_put_ch(b, '.');
        for (int i = decimals - 1; i >= 0; i--) {
            t[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        for (int i = 0; i < decimals; i++)
            hak_put_ch(b, t[i]);
    }
}

void hak_buf_write(int fd, const hak_buf_t *b) { hak_os_write_all(fd, b->b, b->n); }

int hak_os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return pthread_atfork(prepare, parent, child);
}

void hak_os_auxv_random(uint64_t out[2])
{
    const void *rnd = (const void *)getauxval(AT_RANDOM);   /* unaligned */
    out[0] = out[1] = 0;
    if (rnd)
        memcpy(out, rnd, 2 * sizeof(uint64_t));
}
