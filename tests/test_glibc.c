/* glibc's extension API with hakmem's figures (include/hakmem.h): mallinfo2,
 * mallinfo, malloc_trim, malloc_stats, malloc_info, mallopt, and
 * hak_stats_json.  Built three ways like test_api: plain names under
 * LD_PRELOAD, hak_ names (-DHAK_API_MODE, libhakmem_api.a), plain names
 * linked with libhakmem.a.  Run with a subtest name; `churn` is a helper for
 * run_all.sh's option tests (a short allocation loop), `clobber_env` another
 * (overwrites the program's environment strings, as redis-server does for its
 * process title, then allocates: HAKMEM_STATS_FILE must still be honoured). */
#include "common.h"
#include <limits.h>
#include <pthread.h>
#include <time.h>

#ifdef HAK_API_MODE
#define T_MALLINFO2   hak_mallinfo2
#define T_MALLINFO    hak_mallinfo
#define T_TRIM        hak_malloc_trim
#define T_INFO        hak_malloc_info
#define T_MALLOPT     hak_mallopt
static size_t t_stats_json(char *b, size_t n) { return hak_stats_json(b, n); }
static void t_print_stats(void) { hak_print_stats(); }
#else
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define T_MALLINFO2   mallinfo2
#define T_MALLINFO    mallinfo
#define T_TRIM        malloc_trim
#define T_INFO        malloc_info
#define T_MALLOPT     mallopt
static size_t t_stats_json(char *b, size_t n)
{
    size_t (*fn)(char *, size_t) = (size_t (*)(char *, size_t))dlsym(RTLD_DEFAULT, "hak_stats_json");
    if (!fn) DIE("hak_stats_json not found");
    return fn(b, n);
}
static void t_print_stats(void)
{
    void (*fn)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "hak_print_stats");
    if (!fn) DIE("hak_print_stats not found");
    fn();
}
#endif

static size_t in_use(void)
{
    struct mallinfo2 m = T_MALLINFO2();
    return m.uordblks + m.hblkhd;
}

/* after allocating N bytes of small, mid and large blocks, uordblks + hblkhd
 * grow by at least N; after freeing them they fall back */
static void t_figures(void)
{
    enum { NS = 20000, NM = 400, NL = 6 };
    static void *s[NS], *m[NM], *l[NL];
    size_t n = 0, u0 = in_use();
    struct mallinfo2 a = T_MALLINFO2();
    for (int i = 0; i < NS; i++) { s[i] = T_MALLOC(24 + i % 200); n += 24 + i % 200; }
    for (int i = 0; i < NM; i++) { m[i] = T_MALLOC(2000 + i * 97); n += 2000 + (size_t)i * 97; }
    for (int i = 0; i < NL; i++) { l[i] = T_MALLOC((size_t)(1 + i) << 20); n += (size_t)(1 + i) << 20; }
    struct mallinfo2 b = T_MALLINFO2();
    size_t u1 = b.uordblks + b.hblkhd;
    fprintf(stderr, "in use %zu -> %zu (+%zu) for %zu bytes; arena %zu uord %zu ford %zu hblks %zu hblkhd %zu\n",
            u0, u1, u1 - u0, n, b.arena, b.uordblks, b.fordblks, b.hblks, b.hblkhd);
    CHECKF(u1 >= u0 + n, "uordblks + hblkhd grew by %zu, allocated %zu", u1 - u0, n);
    if (t_hakmem_active()) {
        CHECKF(b.hblks >= a.hblks + NL, "hblks %zu -> %zu", a.hblks, b.hblks);
        CHECKF(b.arena >= b.uordblks, "arena %zu < uordblks %zu", b.arena, b.uordblks);
        CHECKF(b.fordblks == b.arena - b.uordblks, "fordblks %zu, arena - uordblks %zu", b.fordblks, b.arena - b.uordblks);
        CHECKF(b.ordblks >= b.smblks && b.usmblks == 0, "ordblks %zu smblks %zu usmblks %zu", b.ordblks, b.smblks, b.usmblks);
        CHECKF(b.fsmblks >= b.smblks * 16, "fsmblks %zu for %zu free tiny blocks", b.fsmblks, b.smblks);
    }
    for (int i = 0; i < NS; i++) T_FREE(s[i]);
    for (int i = 0; i < NM; i++) T_FREE(m[i]);
    for (int i = 0; i < NL; i++) T_FREE(l[i]);
    struct mallinfo2 c = T_MALLINFO2();
    size_t u2 = c.uordblks + c.hblkhd;
    fprintf(stderr, "after free: in use %zu, hblks %zu, keepcost %zu\n", u2, c.hblks, c.keepcost);
    CHECKF(u2 <= u0 + (256u << 10), "in use %zu after free, %zu before", u2, u0);
    if (t_hakmem_active())
        CHECKF(c.hblks == a.hblks, "hblks %zu after free, %zu before", c.hblks, a.hblks);
}

/* mallinfo's int fields saturate: > 2 GiB of untouched large blocks */
static void t_saturate(void)
{
    enum { N = 9 };
    void *p[N];
    if (!t_hakmem_active()) { fprintf(stderr, "glibc: its mallinfo wraps, not checked\n"); return; }
    size_t before = T_MALLINFO2().hblkhd;
    for (int i = 0; i < N; i++)
        if (!(p[i] = T_MALLOC(256u << 20))) { fprintf(stderr, "no 256 MiB block: not checked\n"); return; }
    struct mallinfo2 m2 = T_MALLINFO2();
    struct mallinfo m = T_MALLINFO();
    fprintf(stderr, "hblkhd: mallinfo2 %zu, mallinfo %d\n", m2.hblkhd, m.hblkhd);
    CHECKF(m2.hblkhd >= before + (size_t)N * (256u << 20), "mallinfo2 hblkhd %zu", m2.hblkhd);
    CHECKF(m.hblkhd == INT_MAX, "mallinfo hblkhd %d, want INT_MAX", m.hblkhd);
    CHECKF(m.hblks == (int)m2.hblks && m.arena == (m2.arena > INT_MAX ? INT_MAX : (int)m2.arena), "small fields differ");
    for (int i = 0; i < N; i++) T_FREE(p[i]);
}

/* free memory in magazines, central lists, spans and the Large cache:
 * malloc_trim(0) gives it back (1, RSS falls), a second call finds nothing */
static void t_trim(void)
{
    enum { NS = 300000, NM = 2000, NL = 8 };
    static void *s[NS], *m[NM], *l[NL];
    for (int i = 0; i < NS; i++) memset(s[i] = T_MALLOC(64), 1, 64);
    for (int i = 0; i < NM; i++) memset(m[i] = T_MALLOC(16384), 2, 16384);
    for (int i = 0; i < NL; i++) memset(l[i] = T_MALLOC(2u << 20), 3, 2u << 20);
    for (int i = 0; i < NS; i++) T_FREE(s[i]);
    for (int i = 0; i < NM; i++) T_FREE(m[i]);
    for (int i = 0; i < NL; i++) T_FREE(l[i]);
    struct mallinfo2 a = T_MALLINFO2();
    long rss0 = t_rss_kb();
    int r1 = T_TRIM(0);
    long rss1 = t_rss_kb();
    struct mallinfo2 b = T_MALLINFO2();
    int r2 = T_TRIM(0);
    fprintf(stderr, "trim: %d then %d; VmRSS %ld -> %ld kB; arena %zu -> %zu, keepcost %zu -> %zu\n", r1, r2, rss0,
            rss1, a.arena, b.arena, a.keepcost, b.keepcost);
    CHECKF(r1 == 1, "first malloc_trim returned %d", r1);
    CHECKF(rss1 + 8 * 1024 < rss0, "VmRSS %ld -> %ld kB", rss0, rss1);
    if (t_hakmem_active()) {
        CHECKF(r2 == 0, "second malloc_trim returned %d", r2);
        CHECKF(b.arena < a.arena && b.keepcost == 0, "arena %zu -> %zu, keepcost %zu", a.arena, b.arena, b.keepcost);
    }
}

/* ---- malloc_info: glibc's schema, checked line by line ---- */
static int attrs(const char *l, const char *fmt, int n)
{
    unsigned long long v[4];
    char type[32];
    int got = strchr(fmt, '[') ? sscanf(l, fmt, type, &v[0], &v[1]) : sscanf(l, fmt, &v[0], &v[1], &v[2], &v[3]);
    return got == n;
}

/* 0 when text follows the schema: <malloc version="1">, heaps of <sizes>
 * <size/>*</sizes> <total/>* <system/>* <aspace/>*, then the same totals */
static int info_check(char *text, unsigned long long *sizes_total, unsigned long long *tot_size,
                      unsigned long long *mmap_count, unsigned long long *mmap_size)
{
    int state = 0, heaps = 0;   /* 0 start, 1 in malloc, 2 in heap, 3 in sizes, 4 end */
    *sizes_total = *tot_size = *mmap_count = *mmap_size = 0;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        unsigned long long a, b, c, d;
        char type[32];
        while (*l == ' ') l++;
        if (state == 0 && !strcmp(l, "<malloc version=\"1\">")) state = 1;
        else if (state == 1 && sscanf(l, "<heap nr=\"%llu\">", &a) == 1) { state = 2; heaps++; }
        else if (state == 2 && !strcmp(l, "<sizes>")) state = 3;
        else if (state == 3 && sscanf(l, "<size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>", &a, &b, &c, &d) == 4) {
            if (a > b || c < a * d || c > b * d) { fprintf(stderr, "bad size line: %s\n", l); return 1; }
            *sizes_total += c;
        }
        else if (state == 3 && attrs(l, "<unsorted from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>", 4)) ;
        else if (state == 3 && !strcmp(l, "</sizes>")) state = 2;
        else if ((state == 1 || state == 2) && sscanf(l, "<total type=\"%31[a-z]\" count=\"%llu\" size=\"%llu\"/>", type, &a, &b) == 3) {
            if (state == 1 && !strcmp(type, "mmap")) { *mmap_count = a; *mmap_size = b; }
            else if (state == 1) *tot_size += b;
        }
        else if ((state == 1 || state == 2) && sscanf(l, "<system type=\"%31[a-z]\" size=\"%llu\"/>", type, &a) == 2) ;
        else if ((state == 1 || state == 2) && sscanf(l, "<aspace type=\"%31[a-z]\" size=\"%llu\"/>", type, &a) == 2) ;
        else if (state == 2 && !strcmp(l, "</heap>")) state = 1;
        else if (state == 1 && !strcmp(l, "</malloc>")) state = 4;
        else { fprintf(stderr, "line not in the schema (state %d): %s\n", state, l); return 1; }
    }
    if (state != 4 || !heaps) { fprintf(stderr, "incomplete document (state %d, %d heaps)\n", state, heaps); return 1; }
    return 0;
}

static void t_info(void)
{
    void *keep[64];
    for (int i = 0; i < 64; i++) keep[i] = T_MALLOC(i % 2 ? 100 : 300000);
    for (int i = 0; i < 64; i += 4) T_FREE(keep[i]);
    FILE *f = tmpfile();
    if (!f) DIE("tmpfile");
    struct mallinfo2 m = T_MALLINFO2();
    CHECKF(T_INFO(0, f) == 0, "malloc_info(0) failed");
    long n = ftell(f);
    char *text = calloc(1, (size_t)n + 1);
    rewind(f);
    CHECK(fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    unsigned long long sizes, tot, mc, ms;
    CHECKF(info_check(text, &sizes, &tot, &mc, &ms) == 0, "malloc_info output does not follow the schema");
    fprintf(stderr, "malloc_info: %ld bytes, free sizes %llu, totals %llu, mmap %llu/%llu\n", n, sizes, tot, mc, ms);
    if (t_hakmem_active()) {
        CHECKF(sizes == tot && tot >= m.fsmblks, "sizes %llu, totals %llu, fsmblks %zu", sizes, tot, m.fsmblks);
        CHECKF(mc == m.hblks && ms == m.hblkhd, "mmap %llu/%llu, mallinfo2 %zu/%zu", mc, ms, m.hblks, m.hblkhd);
    }
    free(text);
    errno = 0;
    f = tmpfile();
    int r = T_INFO(1, f);
    CHECKF(r == EINVAL, "malloc_info(1) returned %d, want EINVAL (as glibc 2.36)", r);
    if (t_hakmem_active()) CHECKF(errno == EINVAL, "errno %d", errno);
    fclose(f);
    for (int i = 0; i < 64; i++) if (i % 4) T_FREE(keep[i]);
}

/* mallopt: 1 for the parameters hakmem honours, 0 for the rest; the two
 * honoured ones change what the Large cache keeps */
static void t_mallopt(void)
{
    if (!t_hakmem_active()) { fprintf(stderr, "glibc: hakmem's mallopt table not checked\n"); return; }
    static const int zero[] = { M_MXFAST, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX, M_ARENA_TEST, M_PERTURB, M_CHECK_ACTION, 12345 };
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        CHECKF(T_MALLOPT(zero[i], 1) == 0, "mallopt(%d) honoured?", zero[i]);
    CHECK(T_MALLOPT(M_TRIM_THRESHOLD, -1) == 0);
    CHECK(T_MALLOPT(M_MMAP_THRESHOLD, -1) == 0);
    CHECK(T_MALLOPT(M_TRIM_THRESHOLD, 64 << 20) == 1);
    CHECK(T_MALLOPT(M_MMAP_THRESHOLD, 1 << 20) == 1);   /* freed blocks >= 1 MiB: unmapped at once */
    T_TRIM(0);
    void *big = T_MALLOC(2u << 20), *small = T_MALLOC(512u << 10);
    T_FREE(big);
    size_t k1 = T_MALLINFO2().keepcost;
    T_FREE(small);
    size_t k2 = T_MALLINFO2().keepcost;
    fprintf(stderr, "keepcost after freeing 2 MiB: %zu, then 512 KiB: %zu\n", k1, k2);
    CHECKF(k1 == 0 && k2 >= (512u << 10), "M_MMAP_THRESHOLD not applied (%zu, %zu)", k1, k2);
    CHECK(T_MALLOPT(M_TRIM_THRESHOLD, 0) == 1);   /* the cache keeps nothing */
    small = T_MALLOC(512u << 10);
    T_FREE(small);
    CHECKF(T_MALLINFO2().keepcost == 0, "M_TRIM_THRESHOLD 0: keepcost %zu", T_MALLINFO2().keepcost);
    CHECK(T_MALLOPT(M_TRIM_THRESHOLD, 64 << 20) == 1);
    CHECK(T_MALLOPT(M_MMAP_THRESHOLD, INT_MAX) == 1);
}

/* ---- hak_stats_json ---- */
static volatile int stop_churn;
static void *churn(void *a)
{
    uint64_t rs = 12345;
    void *p[256] = { 0 };
    while (!stop_churn) {
        unsigned i = (unsigned)(t_rand(&rs) % 256);
        T_FREE(p[i]);
        p[i] = T_MALLOC(t_rand_size(&rs));
    }
    for (int i = 0; i < 256; i++) T_FREE(p[i]);
    return NULL;
}

/* the value of "name": in the JSON's "total" object, or -1 */
static long long json_total(const char *j, const char *name)
{
    char key[64];
    const char *t = strstr(j, "\"total\":{");
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = t ? strstr(t, key) : NULL;
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void t_json(void)
{
    static char full[65536], small[16], text[16384];
    if (!t_hakmem_active()) { fprintf(stderr, "glibc: no hak_stats_json\n"); return; }
    size_t need = t_stats_json(NULL, 0);
    CHECKF(need > 100, "needs %zu", need);
    size_t got = t_stats_json(full, sizeof full);
    CHECKF(got < sizeof full && strlen(full) == got, "returned %zu, strlen %zu", got, strlen(full));
    CHECKF(!strncmp(full, "{\"classes\":[", 12) && !strcmp(full + got - 3, "}}\n"), "not one object: %.40s", full);
    memset(small, 'x', sizeof small);
    size_t got2 = t_stats_json(small, 10);
    CHECKF(got2 >= 100 && small[9] == 0 && strlen(small) == 9 && !strncmp(small, full, 9) && small[10] == 'x',
           "short buffer: returned %zu, \"%s\"", got2, small);
    /* the same totals as the text form, taken with nothing allocated between */
    char path[] = "/tmp/hak_glibc_XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    if (fd < 0 || saved < 0) DIE("mkstemp");
    t_stats_json(full, sizeof full);
    dup2(fd, 2);
    t_print_stats();
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    text[n > 0 ? n : 0] = 0;
    int compared = 0;
    for (char *l = strstr(text, "[hakmem] total "); l; l = strstr(l + 1, "[hakmem] total ")) {
        char *e = strchr(l, '\n');
        if (e) *e = 0;
        for (char *kv = strtok(l + 15, " "); kv; kv = strtok(NULL, " ")) {
            char name[64];
            long long v;
            if (sscanf(kv, "%63[a-z_]=%lld", name, &v) != 2) continue;
            CHECKF(json_total(full, name) == v, "%s: text %lld, json %lld", name, v, json_total(full, name));
            compared++;
        }
        if (e) *e = '\n';
        l = e ? e : l;
    }
    CHECKF(compared >= 20, "compared %d totals", compared);
    /* pages given back are counted as madvise calls, with their time */
    long long calls0 = json_total(full, "madvise_calls"), ns0 = json_total(full, "madvise_ns");
    char *big = T_MALLOC(8 << 20);
    memset(big, 1, 8 << 20);
    T_FREE(big);
    T_TRIM(0);
    t_stats_json(full, sizeof full);
    CHECKF(calls0 >= 0 && json_total(full, "madvise_calls") > calls0 && json_total(full, "madvise_ns") > ns0,
           "madvise_calls %lld -> %lld, madvise_ns %lld -> %lld", calls0, json_total(full, "madvise_calls"), ns0,
           json_total(full, "madvise_ns"));
    /* called while two threads allocate: always one whole object */
    pthread_t th[2];
    stop_churn = 0;
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn, NULL);
    for (int i = 0; i < 2000; i++) {
        got = t_stats_json(full, sizeof full);
        if (got >= sizeof full || strncmp(full, "{\"classes\":[", 12) || strcmp(full + got - 3, "}}\n")) {
            CHECKF(0, "call %d: %zu bytes, not one object", i, got);
            break;
        }
    }
    stop_churn = 1;
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
}

/* a helper for run_all.sh: allocation churn for HAKTEST_MS (300) ms */
static void t_churn(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long ms = t_env_long("HAKTEST_MS", 300);
    stop_churn = 0;
    pthread_t th;
    pthread_create(&th, NULL, churn, NULL);
    do {
        usleep(10000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    stop_churn = 1;
    pthread_join(th, NULL);
}

extern char **environ;

static void t_clobber_env(void)
{
    for (char **e = environ; *e; e++)
        for (char *c = strchr(*e, '='); c && *++c;)
            *c = 'x';
    for (int i = 0; i < 1000; i++)
        T_FREE(T_MALLOC((size_t)i * 16 + 1));
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        { "figures", t_figures }, { "saturate", t_saturate }, { "trim", t_trim }, { "info", t_info },
        { "mallopt", t_mallopt }, { "stats_json", t_json },
    };
    if (argc > 1 && !strcmp(argv[1], "churn")) {
        t_require_hakmem();
        t_churn();
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "clobber_env")) {
        t_clobber_env();
        return 0;
    }
    return t_run("test_glibc", tests, sizeof tests / sizeof tests[0], argc, argv);
}
