/* A program built against an installed hakmem (tests/install.sh).
 *   consumer shared LIBFILE   linked with libhakmem.so: LIBFILE is mapped and
 *                             malloc is hakmem's
 *   consumer static           linked with libhakmem.a: malloc is hakmem's
 *   consumer api              linked with libhakmem_api.a: hak_malloc is
 *                             hakmem's, malloc the system's
 * In every mode the header's version is the library's. */
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000

static unsigned long long allocs(void)
{
    hak_public_stats_t s;
    hak_get_stats(&s);
    return s.allocs;
}

static int mapped(const char *file)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        found |= strstr(line, file) != NULL;
    fclose(f);
    return found;
}

/* allocations of N blocks through alloc, counted by hakmem? */
static unsigned long long count(void *(*alloc)(size_t), void (*release)(void *))
{
    static void *p[N];
    unsigned long long before = allocs();
    for (int i = 0; i < N; i++) {
        p[i] = alloc(16 + (size_t)i % 200);
        if (!p[i])
            return 0;
        memset(p[i], i, 16);
    }
    unsigned long long n = allocs() - before;
    for (int i = 0; i < N; i++)
        release(p[i]);
    return n;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(hak_version(), HAKMEM_VERSION_STRING)) {
        printf("FAIL: hak_version() %s, header %s\n", hak_version(), HAKMEM_VERSION_STRING);
        return 1;
    }
    if (!strcmp(mode, "shared") && argc == 3 && !mapped(argv[2])) {
        printf("FAIL: %s not in /proc/self/maps\n", argv[2]);
        return 1;
    }
    if (strcmp(mode, "shared") && mapped("libhakmem.so")) {
        printf("FAIL: libhakmem.so mapped in a statically linked program\n");
        return 1;
    }
    unsigned long long plain = count(malloc, free), hak = count(hak_malloc, hak_free);
    int want_plain = strcmp(mode, "api") ? N : 0;
    if (plain < (unsigned long long)want_plain || (!want_plain && plain) || hak < N) {
        printf("FAIL: %s: hakmem counted %llu of %d mallocs, %llu of %d hak_mallocs\n", mode, plain, N, hak, N);
        return 1;
    }
    printf("ok %s: hakmem %s, %llu of %d mallocs counted\n", mode, hak_version(), plain, N);
    return 0;
}
