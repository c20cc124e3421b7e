/* Shared helpers of the catch suite (see README.md).
 *
 * Protocol: a case commits its bug, then keeps using the heap so that an
 * allocator that checks lazily gets a chance, then calls not_caught(): it
 * prints exactly "not caught" and exits 0.  The allocator catches the bug by
 * stopping the process (a signal, or a non-zero exit) before that line.
 * Exit code 77 (case_error) means the case could not set itself up; the
 * runner reports it as "error", never as caught. */
#ifndef CATCH_H
#define CATCH_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CASE_ERROR 77

__attribute__((noreturn, unused)) static void case_error(const char *why)
{
    fprintf(stderr, "case error: %s\n", why);
    fflush(stderr);
    exit(CASE_ERROR);
}

__attribute__((noreturn, unused)) static void not_caught(void)
{
    fputs("not caught\n", stdout);
    fflush(stdout);
    exit(0);
}

/* Inverted groups (zeroing, reuse order, sanity): the allocator behaved the
 * way the group asks for; the program says so and exits 1. */
__attribute__((noreturn, unused)) static void behaved(const char *what)
{
    fprintf(stderr, "caught: %s\n", what);
    fflush(stderr);
    exit(1);
}

__attribute__((unused)) static size_t arg_size(int argc, char **argv, int i)
{
    if (argc <= i)
        case_error("missing argument");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(argv[i], &end, 0);
    if (errno || *end)
        case_error("bad number");
    return (size_t)v;
}

/* Touch the bytes one at a time through a volatile pointer: no memset, so
 * the write is the program's, not a library call's. */
__attribute__((unused)) static void fill(void *p, int c, size_t n)
{
    volatile unsigned char *q = (volatile unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        q[i] = (unsigned char)c;
}

/* Further allocator traffic after the bug.  With same_size: blocks of SIZE,
 * as many as 4 MiB holds (at least 16, at most 512), allocated, written and
 * kept, then freed, so that the slots of a slab or span are handed out again
 * and an allocator that checks a block when it hands it out gets its chance.
 * Always: runs of other small and mid sizes (without same_size, none within a
 * factor of 2 of SIZE, so no block of its class is handed out). */
__attribute__((unused)) static void churn(size_t size, int same_size)
{
    static void *a[512];
    if (same_size) {
        size_t k = size ? ((size_t)4 << 20) / size : 512;
        if (k < 16)
            k = 16;
        if (k > 512)
            k = 512;
        for (size_t i = 0; i < k; i++) {
            a[i] = malloc(size);
            if (a[i])
                fill(a[i], 0x5a, size < 64 ? size : 64);
        }
        for (size_t i = k; i-- > 0;)
            free(a[i]);
    }
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 16; i++) {
            size_t s = 24 + (size_t)i * 40 + (size_t)r * 1000;
            if (!same_size && s * 2 > size && s < size * 2)
                s = s / 4 + 16; /* stay out of size's class */
            a[i] = malloc(s);
            if (a[i])
                fill(a[i], 0x3c, 16);
        }
        for (int i = 0; i < 16; i++)
            free(a[i]);
    }
}

#endif
