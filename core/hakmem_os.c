/* OS layer: mmap/madvise, clock, environment, formatter (see hakmem_os.h). */
#define _GNU_SOURCE
#include "hakmem_os.h"
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void *hak_os_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *hak_os_map_aligned(size_t size, size_t align)
{
    if (size + align < size)
        return NULL;
    char *p = hak_os_map(size + align);
    if (!p)
        return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = a - (uintptr_t)p, tail = align - head;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((char *)a + size, tail);
    return (void *)a;
}

void hak_os_unmap(void *p, size_t size) { munmap(p, size); }

void hak_os_release(void *p, size_t size) { madvise(p, size, MADV_DONTNEED); }

uint64_t hak_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *hak_env(const char *name)
{
    size_t n = strlen(name);
    if (!environ)
        return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

uint64_t hak_parse_u64(const char *s, const char **end, int *ok)
{
    uint64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *ok = p != s;
    if (end)
        *end = p;
    return v;
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
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        out_c(o, ' ');
    while (n)
        out_c(o, tmp[--n]);
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
    for (int off = 0; off < n;) {
        ssize_t w = write(2, buf + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += (int)w;
    }
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
