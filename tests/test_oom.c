/* Out of memory behaves like glibc.  Subtests:
 *   huge      for RAM/2, RAM+swap+4 KiB and 1ul << 46 (RAM and swap from
 *             sysinfo), malloc, calloc, realloc (of a 64-byte and of a 1 MiB
 *             block), posix_memalign and aligned_alloc each run in a child
 *             under the system allocator and under hakmem: the same outcome
 *             (a block, or NULL + ENOMEM with a failed realloc's old block
 *             intact and posix_memalign's output untouched).  glibc's actual
 *             result is the reference, whatever vm.overcommit_memory says.
 *             A block that is granted is freed without touching its pages.
 *   rlimit    worker threads are created first and build a working set of
 *             tiny/mid/large blocks with content patterns; then RLIMIT_AS is
 *             set a little above VmSize and the workers churn shared slots
 *             (so frees and reallocs cross threads) with malloc, calloc,
 *             realloc across tiny/mid/large both ways, posix_memalign,
 *             aligned_alloc and memalign: every call gives a valid block or
 *             NULL + ENOMEM, free keeps errno, a failed realloc keeps its
 *             block, calls fail and succeed in turn; after the limit is
 *             lifted every size class and entry point works again in every
 *             thread, every live block is intact, and (hakmem) the counted
 *             live bytes come back
 *   heapless  a thread that exists but never allocated frees main's tiny,
 *             mid and large blocks under an RLIMIT_AS of VmSize, so its heap
 *             cannot be made: free works without one and keeps errno;
 *             malloc, realloc and posix_memalign there give NULL + ENOMEM or
 *             a block (hakmem's Tiny and Mid must fail, or the thread had a
 *             heap after all); once the limit is lifted the frees are all
 *             counted (frees, bytes_live) and main's allocations reuse the
 *             memory (bytes_held does not grow: no new spans)
 *   cached    freed Large mappings hakmem keeps do not make a request that
 *             fits without them fail: with eight freed 2 MiB blocks and
 *             RLIMIT_AS at the VmSize they had when live, a realloc growing
 *             by 5 MiB, a 3 MiB malloc and a new thread's first Tiny and Mid
 *             blocks succeed, as under glibc
 * Run under LD_PRELOAD and with the hak_ API (then the plain names are
 * glibc's, the "system allocator" of `huge`). */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* Content that survives realloc: byte i is byte i % 8 of mix(id) + (i / 8) * K,
 * so any prefix checks against the same id and blocks do not look alike. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 31; x *= 0x7FB5D329728EA185ull; x ^= x >> 27; x *= 0x81DADEF4BC2DD44Dull; x ^= x >> 33;
    return x;
}
static void fill_id(void *p, size_t n, uint64_t id)
{
    uint64_t s = mix(id);
    unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { uint64_t v = s + (i >> 3) * 0x9E3779B97F4A7C15ull; memcpy(c + i, &v, 8); }
    for (uint64_t v = s + (i >> 3) * 0x9E3779B97F4A7C15ull; i < n; i++) c[i] = (unsigned char)(v >> (i & 7) * 8);
}
static int check_id(const void *p, size_t n, uint64_t id)
{
    uint64_t s = mix(id);
    const unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = s + (i >> 3) * 0x9E3779B97F4A7C15ull, w;
        memcpy(&w, c + i, 8);
        if (v != w) return 0;
    }
    for (uint64_t v = s + (i >> 3) * 0x9E3779B97F4A7C15ull; i < n; i++)
        if (c[i] != (unsigned char)(v >> (i & 7) * 8)) return 0;
    return 1;
}

/* VmSize in bytes, read without allocating (the caller may be under a limit). */
static size_t vm_size(void)
{
    long kb = t_status_kb("VmSize:");
    if (kb < 0) DIE("cannot read VmSize");
    return (size_t)kb << 10;
}

static struct rlimit as_saved;
static void set_as_limit(size_t bytes)
{
    struct rlimit r = { bytes, as_saved.rlim_max };
    if (setrlimit(RLIMIT_AS, &r)) DIE("setrlimit: %s", strerror(errno));
}
static void lift_as_limit(void)
{
    if (setrlimit(RLIMIT_AS, &as_saved)) DIE("setrlimit: %s", strerror(errno));
}

static int stats(hak_public_stats_t *s)
{
    int ok = t_get_stats(s);
    if (!ok && t_hakmem_active()) DIE("hak_get_stats not found");
    return ok;
}

/* ================================================================= huge */

/* The entry points of one allocator. */
typedef struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
} api_t;

static const api_t api_test = { T_MALLOC, T_FREE, T_CALLOC, T_REALLOC, T_POSIX_MEMALIGN, T_ALIGNED_ALLOC };
#ifdef HAK_API_MODE
static const api_t api_sys = { malloc, free, calloc, realloc, posix_memalign, aligned_alloc };
#endif

enum { F_MALLOC, F_CALLOC, F_REALLOC_SMALL, F_REALLOC_LARGE, F_POSIX_MEMALIGN, F_ALIGNED_ALLOC, F_N };
static const char *const fn_name[F_N] = { "malloc", "calloc", "realloc(64 B)", "realloc(1 MiB)",
                                         "posix_memalign(64)", "aligned_alloc(2 MiB)" };
/* outcomes, the probe child's exit status */
enum { R_BLOCK, R_ENOMEM, R_ERRNO, R_TOUCHED, R_OLD_CHANGED, R_BAD_BLOCK, R_NOT_SYS, R_N };
static const char *const outcome_name[R_N] = { "block", "ENOMEM", "NULL, other errno", "output touched",
                                              "old block changed", "misaligned block", "not the system allocator" };

static int probe(const api_t *a, int fn, size_t n)
{
    void *p = NULL, *old = NULL;
    size_t oldn = 0, align = 16;
    errno = 0;
    switch (fn) {
    case F_MALLOC: p = a->malloc(n); break;
    case F_CALLOC: p = a->calloc(1, n); break;
    case F_REALLOC_SMALL:
    case F_REALLOC_LARGE:
        oldn = fn == F_REALLOC_SMALL ? 64 : 1u << 20;
        if (!(old = a->malloc(oldn))) return R_ERRNO;
        fill_id(old, oldn, 7);
        errno = 0;
        p = a->realloc(old, n);
        break;
    case F_POSIX_MEMALIGN: {
        void *const sentinel = (void *)0x5a5a5a5a;
        void *q = sentinel;
        int r = a->posix_memalign(&q, 64, n);
        if (r) return r != ENOMEM ? R_ERRNO : q != sentinel ? R_TOUCHED : R_ENOMEM;
        p = q;
        align = 64;
        break;
    }
    case F_ALIGNED_ALLOC: p = a->aligned_alloc(2u << 20, n); align = 2u << 20; break;
    }
    if (!p) {
        if (old && !check_id(old, oldn, 7)) return R_OLD_CHANGED;
        return errno == ENOMEM ? R_ENOMEM : R_ERRNO;
    }
    a->free(p);   /* untouched: a granted RAM/2 is never faulted in */
    return (uintptr_t)p % align ? R_BAD_BLOCK : R_BLOCK;
}

/* The outcome of one call in a child process; the system allocator's side
 * runs this program again without LD_PRELOAD in plain mode. */
static int probe_child(int sys, int fn, size_t n)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) DIE("fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(60);
#ifdef HAK_API_MODE
        _exit(probe(sys ? &api_sys : &api_test, fn, n));
#else
        if (!sys) _exit(probe(&api_test, fn, n));
        char fs[16], ns[32];
        snprintf(fs, sizeof fs, "%d", fn);
        snprintf(ns, sizeof ns, "%zu", n);
        char *args[] = { "test_oom", "huge_probe", fs, ns, NULL };
        unsetenv("LD_PRELOAD");
        unsetenv("HAKTEST_REQUIRE_HAKMEM");
        execve("/proc/self/exe", args, environ);
        _exit(127);
#endif
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) DIE("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st)) return 200 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static const char *outcome(int r, char *buf, size_t cap)
{
    if (r >= 0 && r < R_N) return outcome_name[r];
    if (r >= 200) snprintf(buf, cap, "killed by signal %d", r - 200);
    else snprintf(buf, cap, "exit status %d", r);
    return buf;
}

static int run_huge(void)
{
    struct sysinfo si;
    if (sysinfo(&si)) {
        fprintf(stderr, "SKIP: sysinfo failed (%s): RAM unknown, nothing to compare\n", strerror(errno));
        return 0;
    }
    size_t ram = (size_t)si.totalram * si.mem_unit, swap = (size_t)si.totalswap * si.mem_unit;
    char oc[16] = "?";
    int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY);
    if (fd >= 0) {
        ssize_t k = read(fd, oc, sizeof oc - 1);
        oc[k > 0 ? k : 0] = 0;
        oc[strcspn(oc, "\n")] = 0;
        close(fd);
    }
    fprintf(stderr, "RAM %zu MiB, swap %zu MiB, vm.overcommit_memory=%s\n", ram >> 20, swap >> 20, oc);
    const struct { const char *name; size_t n; } sizes[] = {
        { "RAM/2", (ram / 2) & ~(size_t)4095 },
        { "RAM+swap+4KiB", ram + swap + 4096 },
        { "1<<46", (size_t)1 << 46 },
    };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int fn = 0; fn < F_N; fn++) {
            char b1[32], b2[32];
            int rs = probe_child(1, fn, sizes[s].n), rh = probe_child(0, fn, sizes[s].n);
            fprintf(stderr, "%-14s %-21s system: %-8s hakmem: %s\n", sizes[s].name, fn_name[fn],
                    outcome(rs, b1, sizeof b1), outcome(rh, b2, sizeof b2));
            if (rs == 127 || rs == R_NOT_SYS) {
                fprintf(stderr, "SKIP: the system allocator could not be run (%s)\n", outcome(rs, b1, sizeof b1));
                return 0;
            }
            CHECKF(rs == R_BLOCK || rs == R_ENOMEM, "system allocator: %s", outcome(rs, b1, sizeof b1));
            CHECKF(rh == rs, "%s(%s): hakmem %s, system %s", fn_name[fn], sizes[s].name,
                   outcome(rh, b2, sizeof b2), outcome(rs, b1, sizeof b1));
        }
    return 0;
}

/* ================================================================ rlimit */

#define NTHREADS  4
#define NSLOTS    1024
#define LIMIT_PAD (24u << 20)   /* RLIMIT_AS = VmSize + this once the working set is built */

typedef struct {
    atomic_int busy;
    void *p;
    size_t n;
    uint64_t id;
} slot_t;

static slot_t slots[NSLOTS];
static atomic_uint_fast64_t next_id = 1;
static pthread_barrier_t bar;

enum { K_MALLOC, K_CALLOC, K_REALLOC, K_POSIX_MEMALIGN, K_ALIGNED_ALLOC, K_MEMALIGN, K_N };
static const char *const kind_name[K_N] = { "malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc",
                                           "memalign" };
enum { L_TINY, L_MID, L_LARGE, L_N };

typedef struct {
    uint64_t rs;
    unsigned long calls[K_N][L_N], fails[K_N][L_N];
    unsigned long turns;   /* a success right after a failure */
    int last_failed;
} worker_t;

/* tiny 1 B .. 1 KiB uniform; mid 1 KiB .. 256 KiB and large 256 KiB .. 2 MiB
 * log-uniform (a power of two, then uniform up to the next) */
static size_t rand_size(uint64_t *rs, int layer)
{
    uint64_t r = t_rand(rs);
    if (layer == L_TINY) return 1 + r % 1024;
    int e = layer == L_MID ? 10 + (int)(r % 8) : 18 + (int)(r % 3);
    r >>= 3;
    return ((size_t)1 << e) + 1 + r % ((size_t)1 << e);
}

static int layer_of(size_t n) { return n <= 1024 ? L_TINY : n <= 256u * 1024 ? L_MID : L_LARGE; }

static size_t rand_align(uint64_t *rs)
{
    static const size_t a[] = { 16, 32, 64, 256, 4096, 65536, 16, 64, 1u << 20 };
    uint64_t r = t_rand(rs) % 64;
    return r < 63 ? a[r % 8] : a[8];   /* 1 MiB rarely: it costs address space */
}

/* A valid block of at least n bytes aligned to align, or CHECK fails. */
static void check_block(void *p, size_t n, size_t align, const char *what)
{
    CHECKF((uintptr_t)p % align == 0, "%s(%zu, align %zu) = %p: misaligned", what, n, align, p);
    CHECKF(T_USABLE(p) >= n, "%s(%zu) = %p: usable size %zu", what, n, p, T_USABLE(p));
}

static void note(worker_t *w, int kind, size_t n, int failed)
{
    int l = layer_of(n);
    w->calls[kind][l]++;
    if (failed) w->fails[kind][l]++;
    else if (w->last_failed) w->turns++;
    w->last_failed = failed;
}

/* A new block in an empty slot with a random entry point; 1 on success. */
static int slot_alloc(worker_t *w, slot_t *s, int layer)
{
    size_t n = rand_size(&w->rs, layer), align = 16;
    int kind = (int)(t_rand(&w->rs) % 5);
    kind = kind == 2 ? K_MEMALIGN : kind;   /* realloc is for occupied slots */
    void *p = NULL;
    errno = 0;
    switch (kind) {
    case K_MALLOC: p = T_MALLOC(n); break;
    case K_CALLOC: p = T_CALLOC(n, 1); break;
    case K_POSIX_MEMALIGN: {
        void *const sentinel = (void *)0x5a5a5a5a;
        void *q = sentinel;
        align = rand_align(&w->rs);
        int r = T_POSIX_MEMALIGN(&q, align, n);
        CHECKF(r == 0 || r == ENOMEM, "posix_memalign(%zu, %zu) = %d", align, n, r);
        CHECKF(r == 0 || q == sentinel, "posix_memalign(%zu, %zu) failed but wrote %p", align, n, q);
        p = r ? NULL : q;
        errno = r;
        break;
    }
    case K_ALIGNED_ALLOC: align = rand_align(&w->rs); p = T_ALIGNED_ALLOC(align, n); break;
    case K_MEMALIGN: align = rand_align(&w->rs); p = T_MEMALIGN(align, n); break;
    }
    note(w, kind, n, !p);
    if (!p) {
        CHECKF(errno == ENOMEM, "%s(%zu) = NULL, errno %d", kind_name[kind], n, errno);
        return 0;
    }
    check_block(p, n, align, kind_name[kind]);
    if (kind == K_CALLOC) {
        const unsigned char *c = p;
        size_t i = 0;
        while (i < n && !c[i]) i++;
        CHECKF(i == n, "calloc(%zu) = %p: byte %zu not zero", n, p, i);
    }
    s->p = p;
    s->n = n;
    s->id = atomic_fetch_add(&next_id, 1);
    fill_id(p, n, s->id);
    return 1;
}

static void slot_verify(const slot_t *s, const char *when)
{
    CHECKF(check_id(s->p, s->n, s->id), "%s: block %p (%zu bytes, id %llu) changed", when, s->p, s->n,
           (unsigned long long)s->id);
}

static void slot_free(slot_t *s)
{
    slot_verify(s, "before free");
    errno = EINTR;
    T_FREE(s->p);
    CHECKF(errno == EINTR, "free(%p) set errno to %d", s->p, errno);
    s->p = NULL;
}

/* Grow into the next layer, shrink into a lower one, or anything. */
static void slot_realloc(worker_t *w, slot_t *s)
{
    int l = layer_of(s->n), r = (int)(t_rand(&w->rs) % 3);
    int to = r == 0 ? (l < L_LARGE ? l + 1 : L_TINY) : r == 1 ? (l > L_TINY ? l - 1 : L_LARGE) : (int)(t_rand(&w->rs) % L_N);
    size_t n = rand_size(&w->rs, to);
    slot_verify(s, "before realloc");
    errno = 0;
    void *q = T_REALLOC(s->p, n);
    note(w, K_REALLOC, n, !q);
    if (!q) {
        CHECKF(errno == ENOMEM, "realloc(%zu -> %zu) = NULL, errno %d", s->n, n, errno);
        slot_verify(s, "after a failed realloc");   /* the old block stays */
        return;
    }
    check_block(q, n, 16, "realloc");
    size_t keep = n < s->n ? n : s->n;
    CHECKF(check_id(q, keep, s->id), "realloc(%zu -> %zu) = %p: contents not kept", s->n, n, q);
    s->p = q;
    s->n = n;
    fill_id(q, n, s->id);
}

static int rand_layer(uint64_t *rs)
{
    unsigned r = (unsigned)(t_rand(rs) % 100);
    return r < 50 ? L_TINY : r < 90 ? L_MID : L_LARGE;
}

static slot_t *grab(uint64_t *rs)
{
    for (;;) {
        slot_t *s = &slots[t_rand(rs) % NSLOTS];
        if (!atomic_exchange(&s->busy, 1)) return s;
    }
}
static void ungrab(slot_t *s) { atomic_store(&s->busy, 0); }

/* Every size class and entry point after the limit is lifted. */
static void all_classes_work(const char *who)
{
    static const size_t aligns[] = { 16, 64, 4096, 65536, 1u << 20 };
    for (size_t n = 1; n <= (4u << 20); n = n < 1024 ? n + 16 : n + n / 8) {
        void *p = T_MALLOC(n);
        CHECKF(p, "%s: malloc(%zu) failed after the limit was lifted", who, n);
        if (!p) continue;
        fill_id(p, n, n);
        void *q = T_REALLOC(p, n * 3 + 1);
        CHECKF(q && check_id(q, n, n), "%s: realloc(%zu -> %zu) after the limit was lifted", who, n, n * 3 + 1);
        T_FREE(q ? q : p);
        p = T_CALLOC(1, n);
        CHECKF(p, "%s: calloc(%zu) failed after the limit was lifted", who, n);
        T_FREE(p);
        for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
            void *r = NULL;
            CHECKF(T_POSIX_MEMALIGN(&r, aligns[i], n) == 0 && (uintptr_t)r % aligns[i] == 0,
                   "%s: posix_memalign(%zu, %zu) after the limit was lifted", who, aligns[i], n);
            T_FREE(r);
            r = T_ALIGNED_ALLOC(aligns[i], n);
            CHECKF(r && (uintptr_t)r % aligns[i] == 0, "%s: aligned_alloc(%zu, %zu)", who, aligns[i], n);
            T_FREE(r);
            r = T_MEMALIGN(aligns[i], n);
            CHECKF(r && (uintptr_t)r % aligns[i] == 0, "%s: memalign(%zu, %zu)", who, aligns[i], n);
            T_FREE(r);
        }
    }
}

static worker_t workers[NTHREADS];
static long churn_ops;
static double churn_seconds;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *rlimit_worker(void *arg)
{
    worker_t *w = arg;
    long me = w - workers;
    /* 1: the working set, three quarters of this thread's share of the slots */
    for (long i = me; i < NSLOTS; i += NTHREADS)
        if (i % 4 != 3 && !slot_alloc(w, &slots[i], rand_layer(&w->rs)))
            DIE("no working set: allocation failed before the limit");
    memset(w->calls, 0, sizeof w->calls);
    memset(w->fails, 0, sizeof w->fails);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);   /* main sets the limit */
    /* 2: churn under the limit */
    double end = now_s() + churn_seconds;
    for (long i = 0; i < churn_ops && (i & 255 || now_s() < end); i++) {
        slot_t *s = grab(&w->rs);
        if (!s->p) slot_alloc(w, s, rand_layer(&w->rs));
        else if (t_rand(&w->rs) % 2) slot_free(s);
        else slot_realloc(w, s);
        ungrab(s);
    }
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);   /* main lifts the limit */
    char who[32];
    snprintf(who, sizeof who, "thread %ld", me);
    all_classes_work(who);
    return NULL;
}

static int run_rlimit(void)
{
    churn_ops = t_env_long("HAKTEST_OOM_OPS", 40000);          /* per thread */
    churn_seconds = (double)t_env_long("HAKTEST_OOM_SECONDS", 10);
    getrlimit(RLIMIT_AS, &as_saved);
    pthread_barrier_init(&bar, NULL, NTHREADS + 1);
    hak_public_stats_t s0, s1;
    int have_stats = stats(&s0);
    pthread_t th[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) {   /* every thread and its stack first */
        workers[i].rs = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        if (pthread_create(&th[i], NULL, rlimit_worker, &workers[i])) DIE("pthread_create");
    }
    pthread_barrier_wait(&bar);
    size_t vm = vm_size(), limit = vm + LIMIT_PAD;
    fprintf(stderr, "working set built: VmSize %zu MiB, RLIMIT_AS %zu MiB\n", vm >> 20, limit >> 20);
    set_as_limit(limit);
    double t0 = now_s();
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);   /* churn done */
    double dt = now_s() - t0;
    size_t vm_peak = vm_size();
    lift_as_limit();
    pthread_barrier_wait(&bar);
    all_classes_work("main");
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);

    unsigned long calls = 0, fails = 0, turns = 0;
    for (int k = 0; k < K_N; k++) {
        unsigned long c[L_N] = { 0 }, f[L_N] = { 0 };
        for (int i = 0; i < NTHREADS; i++)
            for (int l = 0; l < L_N; l++) { c[l] += workers[i].calls[k][l]; f[l] += workers[i].fails[k][l]; }
        fprintf(stderr, "%-15s failed/calls  tiny %lu/%lu  mid %lu/%lu  large %lu/%lu\n", kind_name[k],
                f[L_TINY], c[L_TINY], f[L_MID], c[L_MID], f[L_LARGE], c[L_LARGE]);
        for (int l = 0; l < L_N; l++) { calls += c[l]; fails += f[l]; }
    }
    for (int i = 0; i < NTHREADS; i++) turns += workers[i].turns;
    fprintf(stderr, "%lu calls in %.1f s under the limit, %lu failed, %lu successes right after a failure; "
            "VmSize at the end %zu MiB\n", calls, dt, fails, turns, vm_peak >> 20);
    /* glibc reserved its arenas before the limit: there it may never bite */
    if (t_hakmem_active()) {
        CHECKF(fails > 0, "the limit never bit");
        CHECKF(turns > 0, "no call succeeded after a failure");
    }

    for (int i = 0; i < NSLOTS; i++)   /* every live block intact, then freed */
        if (slots[i].p) slot_free(&slots[i]);
    if (have_stats) {
        stats(&s1);
        long long d = (long long)s1.bytes_live - (long long)s0.bytes_live;
        fprintf(stderr, "bytes_live %llu -> %llu after everything was freed\n", s0.bytes_live, s1.bytes_live);
        CHECKF(d < (64 << 10) && d > -(64 << 10), "bytes_live changed by %lld", d);
    }
    return 0;
}

/* ============================================================== heapless */

#define HL_TINY  20000   /* 48-byte blocks: about 15 spans */
#define HL_MID   400     /* 8 KiB blocks */
#define HL_LARGE 4       /* 1 MiB blocks */
#define HL_N (HL_TINY + HL_MID + HL_LARGE)
static const size_t hl_size[3] = { 48, 8192, 1u << 20 };
static void *hl_blocks[HL_N];
static void *hl_keep;    /* a tiny block the heap-less thread tries to realloc */

static size_t hl_n(int i) { return hl_size[i < HL_TINY ? 0 : i < HL_TINY + HL_MID ? 1 : 2]; }

static void hl_alloc_all(uint64_t tag)
{
    for (int i = 0; i < HL_N; i++) {
        if (!(hl_blocks[i] = T_MALLOC(hl_n(i)))) DIE("malloc failed");
        fill_id(hl_blocks[i], hl_n(i), tag + (uint64_t)i);
    }
}

static void hl_free(int from, int to)
{
    for (int i = from; i < to; i++) {
        CHECKF(check_id(hl_blocks[i], hl_n(i), 1 + (uint64_t)i), "block %d changed", i);
        errno = EINTR;
        T_FREE(hl_blocks[i]);
        CHECKF(errno == EINTR, "free of block %d without a heap set errno to %d", i, errno);
    }
}

/* malloc without a heap: NULL + ENOMEM, or a block (checked, freed). */
static void *hl_try_malloc(size_t n)
{
    errno = 0;
    void *p = T_MALLOC(n);
    CHECKF(p || errno == ENOMEM, "malloc(%zu) without a heap = NULL, errno %d", n, errno);
    if (p) { fill_id(p, n, 9); CHECK(check_id(p, n, 9)); T_FREE(p); }
    return p;
}

static void *heapless_thread(void *arg)
{
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);   /* main set the limit: no heap can be made */
    hl_free(0, HL_TINY + HL_MID);
    /* hakmem's Tiny and Mid need a heap: a block here means the thread got
     * one, and the heap-less path above was not taken */
    for (int k = 0; k < 2; k++)
        if (hl_try_malloc(hl_size[k]) && t_hakmem_active())
            CHECKF(0, "malloc(%zu) gave a block: the thread had a heap", hl_size[k]);
    errno = 0;
    void *q = T_REALLOC(hl_keep, 4096);
    CHECKF(q || errno == ENOMEM, "realloc without a heap = NULL, errno %d", errno);
    if (q) hl_keep = q;
    CHECKF(check_id(hl_keep, 48, 5), "realloc without a heap changed the block");
    void *const sentinel = (void *)0x5a5a5a5a;
    void *r = sentinel;
    int e = T_POSIX_MEMALIGN(&r, 64, 100);
    CHECKF((e == ENOMEM && r == sentinel) || e == 0, "posix_memalign without a heap = %d, out %p", e, r);
    if (!e) T_FREE(r);
    /* Large blocks need no heap; once freed, one may come back from the cache */
    hl_free(HL_TINY + HL_MID, HL_N);
    hl_try_malloc(hl_size[2]);
    return NULL;
}

static int run_heapless(void)
{
    getrlimit(RLIMIT_AS, &as_saved);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t th;
    if (pthread_create(&th, NULL, heapless_thread, NULL)) DIE("pthread_create");
    pthread_barrier_wait(&bar);   /* the thread exists and has not allocated */
    hl_alloc_all(1);
    if (!(hl_keep = T_MALLOC(48))) DIE("malloc failed");
    fill_id(hl_keep, 48, 5);
    size_t bytes = 0;
    for (int i = 0; i < HL_N; i++) bytes += T_USABLE(hl_blocks[i]);
    hak_public_stats_t s0, s1, s2, s3;
    int have_stats = stats(&s0);
    set_as_limit(vm_size());
    pthread_barrier_wait(&bar);
    pthread_join(th, NULL);
    lift_as_limit();
    if (!have_stats) {
        fprintf(stderr, "no hak_get_stats: reuse not checked\n");
        T_FREE(hl_keep);
        return 0;
    }
    stats(&s1);
    fprintf(stderr, "frees +%llu (%d freed), bytes_live %llu -> %llu (%zu freed)\n", s1.frees - s0.frees, HL_N,
            s0.bytes_live, s1.bytes_live, bytes);
    CHECKF(s1.frees - s0.frees >= HL_N, "frees counted %llu, want %d", s1.frees - s0.frees, HL_N);
    CHECKF(s0.bytes_live - s1.bytes_live >= bytes && s0.bytes_live - s1.bytes_live <= bytes + (64 << 10),
           "bytes_live fell by %llu, %zu were freed", s0.bytes_live - s1.bytes_live, bytes);
    /* the owner takes the freed blocks back: no new spans for the same blocks */
    stats(&s2);
    hl_alloc_all(2);
    stats(&s3);
    fprintf(stderr, "bytes_held %llu before the frees, %llu after, %llu once allocated again\n", s0.bytes_held,
            s2.bytes_held, s3.bytes_held);
    CHECKF(s3.bytes_held <= s0.bytes_held + (512u << 10), "new spans for the same blocks: held %llu -> %llu",
           s0.bytes_held, s3.bytes_held);
    for (int i = 0; i < HL_N; i++) {
        CHECKF(check_id(hl_blocks[i], hl_n(i), 2 + (uint64_t)i), "block %d changed", i);
        T_FREE(hl_blocks[i]);
    }
    CHECKF(check_id(hl_keep, 48, 5), "kept block changed");
    T_FREE(hl_keep);
    t_release_free_memory();
    stats(&s3);
    CHECKF(s3.remote_backlog == 0, "backlog %llu after release", s3.remote_backlog);
    return 0;
}

/* ================================================================ cached */

/* glibc unmaps a freed large block at once; hakmem's cache of freed
 * mappings must give way when the OS refuses a mapping.  The new thread's
 * first blocks need a heap, spans, maybe a segment. */
static const size_t cached_mid[] = { 48, 100u << 10, 200u << 10, 256u << 10 };

static void *cached_thread(void *arg)
{
    void *p[sizeof cached_mid / sizeof *cached_mid];
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);   /* under the limit */
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) {
        errno = 0;
        p[i] = T_MALLOC(cached_mid[i]);
        CHECKF(p[i], "new thread: malloc(%zu) = NULL, errno %d, with 16 MiB freed", cached_mid[i], errno);
        if (p[i]) fill_id(p[i], cached_mid[i], i);
    }
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        if (p[i]) {
            CHECKF(check_id(p[i], cached_mid[i], i), "block %zu changed", i);
            T_FREE(p[i]);
        }
    return NULL;
}

static int run_cached(void)
{
    getrlimit(RLIMIT_AS, &as_saved);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t th;
    if (pthread_create(&th, NULL, cached_thread, NULL)) DIE("pthread_create");
    pthread_barrier_wait(&bar);
    void *keep = T_MALLOC(1u << 20);
    if (!keep) DIE("malloc failed");
    fill_id(keep, 1u << 20, 3);
    for (int round = 0; round < 3; round++) {
        void *b[8];
        for (int i = 0; i < 8; i++) {
            if (!(b[i] = T_MALLOC(2u << 20))) DIE("malloc failed");
            fill_id(b[i], 2u << 20, 4);
        }
        size_t limit = vm_size();
        for (int i = 0; i < 8; i++) T_FREE(b[i]);
        set_as_limit(limit);
        errno = 0;
        if (round == 0) {
            void *q = T_REALLOC(keep, 6u << 20);
            CHECKF(q, "realloc(1 MiB -> 6 MiB) = NULL, errno %d, with 16 MiB freed", errno);
            if (q) keep = q;
            CHECKF(check_id(keep, 1u << 20, 3), "realloc lost the contents");
        } else if (round == 1) {
            void *p = T_MALLOC(3u << 20);
            CHECKF(p, "malloc(3 MiB) = NULL, errno %d, with 16 MiB freed", errno);
            T_FREE(p);
        } else {
            pthread_barrier_wait(&bar);
            pthread_join(th, NULL);
        }
        lift_as_limit();
    }
    T_FREE(keep);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "huge_probe")) {   /* the system allocator's side of `huge` */
        if (t_hakmem_active()) return R_NOT_SYS;
        alarm(60);
        return probe(&api_test, atoi(argv[2]), strtoull(argv[3], NULL, 10));
    }
    t_require_hakmem();
    const char *w = argc > 1 ? argv[1] : "";
    if (!strcmp(w, "huge")) run_huge();
    else if (!strcmp(w, "rlimit")) run_rlimit();
    else if (!strcmp(w, "heapless")) run_heapless();
    else if (!strcmp(w, "cached")) run_cached();
    else {
        fprintf(stderr, "usage: %s huge|rlimit|heapless|cached\n", argv[0]);
        return 2;
    }
    fprintf(stderr, "test_oom %s (%s): %d checks failed\n", w, T_MODE_NAME, t_failures);
    return t_failures ? 1 : 0;
}
