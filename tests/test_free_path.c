/* The cases that leave free()'s fast path, through the hak_ API, seen in
 * the counters of hak_get_stats and in which blocks come back.  Each subtest
 * runs in a fresh process (argv[1], exact name):
 *   full_magazine   a thread frees more Tiny blocks of one class than the
 *                   magazine holds (HAKMEM_TLS_CAP, default 64): no flush up
 *                   to the capacity, one at the block past it; allocating
 *                   them again hands out the magazine's blocks newest first,
 *                   then the first flushed batch whole from the depot (one
 *                   refill), and each refill brings at least half a magazine
 *   remote_back     the owner's only span is all handed out; another thread
 *                   frees one block (a remote free, pushed at its exit); the
 *                   owner's next refill collects it (a drain, no backlog) and
 *                   hands it out within one magazine
 *   mid_other       a Mid block freed by another thread is no remote free
 *                   (Mid spans have no owner): it goes to the freeing
 *                   thread's magazine, whose next malloc returns it
 *   heapless        a pthread key destructor that runs after the thread's
 *                   heap was handed back frees a Tiny, a Mid and a Large
 *                   block: the Tiny one goes to its abandoned span as a
 *                   remote free, the Large bytes are no longer live, and a
 *                   new thread (which takes the pooled heap) gets the Tiny
 *                   and Mid blocks again
 *   large           1 MiB (page heap) and 64 MiB (a mapping of its own)
 *                   blocks freed by their thread and by another: the live
 *                   bytes go back, no remote free is counted
 *   bad_*           bad input test_badfree.c does not have, in a child that
 *                   must die by SIGABRT with glibc's wording and the pointer:
 *                   map_interior (p + 8 of a 64 MiB mapping), map_double (a
 *                   64 MiB mapping freed twice: the registry no longer knows
 *                   it, so "invalid pointer", as glibc's munmap_chunk says),
 *                   remote_double (a Tiny block freed again while its remote
 *                   free is pending on the span), mid_flushed_double (a Mid
 *                   block freed again after a flush sent it to the shard)
 * Built linked with libhakmem_api.a (system malloc for everything else). */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static hak_public_stats_t stats(void)
{
    hak_public_stats_t s;
    t_get_stats(&s);
    return s;
}

static void join(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    if (pthread_create(&th, NULL, fn, arg) || pthread_join(th, NULL))
        DIE("pthread");
}

static void *xmalloc(size_t n)
{
    void *p = T_MALLOC(n);
    if (!p)
        DIE("hak_malloc(%zu) failed", n);
    return p;
}

/* The magazine capacity of a Tiny class: HAKMEM_TLS_CAP as a plain number */
static uint32_t tiny_cap(void) { return (uint32_t)t_env_long("HAKMEM_TLS_CAP", 64); }

static int contains(void *const *v, uint32_t n, const void *p)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == p)
            return 1;
    return 0;
}

/* ---- a full magazine ---- */

static void test_full_magazine(void)
{
    enum { BS = 64 };
    const uint32_t cap = tiny_cap(), k = 4 * cap;
    void **b = calloc(k, sizeof *b), **again = calloc(k, sizeof *again);
    /* whole refills: the magazine is empty after the last */
    for (uint32_t i = 0; i < k; i++)
        b[i] = xmalloc(BS);
    hak_public_stats_t s0 = stats();
    for (uint32_t i = 0; i < cap; i++)
        T_FREE(b[i]);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.flushes == s0.flushes, "%llu flushes before the magazine was over its %u", s1.flushes - s0.flushes, cap);
    T_FREE(b[cap]);
    hak_public_stats_t s2 = stats();
    CHECKF(s2.flushes == s0.flushes + 1, "%llu flushes at block %u", s2.flushes - s0.flushes, cap + 1);
    for (uint32_t i = cap + 1; i < k; i++)
        T_FREE(b[i]);
    hak_public_stats_t s3 = stats();
    CHECKF(s3.flushes >= s2.flushes + 2, "%llu flushes for %u blocks", s3.flushes - s0.flushes, k);

    /* the magazine's blocks, newest first; then one refill brings the first
     * batch flushed, which waited whole in the depot: its last block on top */
    const uint32_t half = cap / 2;
    for (uint32_t i = 0; i < cap + half; i++)
        again[i] = xmalloc(BS);
    hak_public_stats_t s4 = stats();
    CHECKF(s4.refills == s3.refills + 1, "%llu refills for the magazine and one batch", s4.refills - s3.refills);
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < cap; i++)
        wrong += again[i] != b[k - 1 - i];
    for (uint32_t i = 0; i < half; i++)
        wrong += again[cap + i] != b[half - 1 - i];
    CHECKF(wrong == 0, "%u of the first %u blocks not the freed ones in order", wrong, cap + half);
    for (uint32_t i = cap + half; i < k; i++)
        again[i] = xmalloc(BS);
    hak_public_stats_t s5 = stats();
    unsigned long long refills = s5.refills - s3.refills;
    CHECKF(refills * half <= k, "%llu refills for %u blocks (capacity %u)", refills, k, cap);
    for (uint32_t i = 0; i < k; i++)
        T_FREE(again[i]);
    free(b);
    free(again);
}

/* ---- a remote free comes back to its owner ---- */

static void *free_one(void *p)
{
    T_FREE(p);
    return NULL;
}

static void test_remote_back(void)
{
    enum { BS = 64, SPAN = 65536 / BS };   /* one Tiny span of 64-byte blocks */
    const uint32_t cap = tiny_cap();
    static void *b[SPAN];
    for (uint32_t i = 0; i < SPAN; i++)
        b[i] = xmalloc(BS);
    void *p = b[SPAN / 3];
    hak_public_stats_t s0 = stats();
    join(free_one, p);   /* its exit pushes what its outbox gathered */
    hak_public_stats_t s1 = stats();
    CHECKF(s1.remote_frees == s0.remote_frees + 1 && s1.remote_backlog == 1,
           "remote_frees +%llu, backlog %llu", s1.remote_frees - s0.remote_frees, s1.remote_backlog);
    /* the span has no free block but p: the refill collects it */
    uint32_t i = 0;
    while (i < cap && xmalloc(BS) != p)
        i++;
    hak_public_stats_t s2 = stats();
    CHECKF(i < cap, "the owner did not get the block back in %u mallocs", cap);
    CHECKF(s2.drains > s1.drains && s2.remote_backlog == 0, "drains +%llu, backlog %llu", s2.drains - s1.drains,
           s2.remote_backlog);
}

/* ---- a Mid block freed by another thread ---- */

enum { MID = 20000 };

static void *free_and_take(void *p)
{
    T_FREE(p);
    void *q = xmalloc(MID);
    CHECKF(q == p, "the freeing thread's malloc gave %p, not the block it freed (%p)", q, p);
    T_FREE(q);
    return NULL;
}

static void test_mid_other(void)
{
    void *p = xmalloc(MID);
    memset(p, 1, MID);
    hak_public_stats_t s0 = stats();
    join(free_and_take, p);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.remote_frees == s0.remote_frees, "%llu remote frees", s1.remote_frees - s0.remote_frees);
    CHECKF(s1.frees >= s0.frees + 2, "frees +%llu", s1.frees - s0.frees);
}

/* ---- free after the thread's heap was handed back ---- */

enum { H_TINY = 96, H_MID = 6000, H_LARGE = 1 << 20, H_REUSE = 512 };
static pthread_key_t late_key;
static void *late[3];
static hak_public_stats_t late_before, late_after;

static void late_free(void *arg)
{
    late_before = stats();
    for (int i = 0; i < 3; i++)
        T_FREE(late[i]);
    late_after = stats();
}

static void *heapless_thread(void *arg)
{
    late[0] = xmalloc(H_TINY);   /* the heap and its key's value: before ours */
    late[1] = xmalloc(H_MID);
    late[2] = xmalloc(H_LARGE);
    memset(late[2], 1, H_LARGE);
    pthread_setspecific(late_key, late);
    return NULL;
}

/* a new thread takes the handed-back heap (heaps are pooled): its Mid shard,
 * and the abandoned span of the Tiny class */
static void *reuse_thread(void *arg)
{
    static void *v[2][H_REUSE];
    static const size_t size[2] = { H_TINY, H_MID };
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < H_REUSE; i++)
            v[k][i] = xmalloc(size[k]);
        CHECKF(contains(v[k], H_REUSE, late[k]), "%zu bytes: %p not handed out again in %u mallocs", size[k],
               late[k], H_REUSE);
        for (uint32_t i = 0; i < H_REUSE; i++)
            T_FREE(v[k][i]);
    }
    return NULL;
}

static void test_heapless(void)
{
    T_FREE(xmalloc(16));   /* hakmem's thread key first */
    if (pthread_key_create(&late_key, late_free))
        DIE("pthread_key_create");
    join(heapless_thread, NULL);
    CHECKF(late_after.frees == late_before.frees + 3, "frees +%llu", late_after.frees - late_before.frees);
    /* the Tiny block's span was abandoned: the free is a remote one */
    CHECKF(late_after.remote_frees == late_before.remote_frees + 1, "remote_frees +%llu",
           late_after.remote_frees - late_before.remote_frees);
    CHECKF(late_before.bytes_live - late_after.bytes_live >= H_LARGE, "live bytes %llu -> %llu",
           late_before.bytes_live, late_after.bytes_live);
    join(reuse_thread, NULL);
}

/* ---- Large blocks ---- */

static const size_t large_sizes[] = { 1 << 20, 64 << 20 };

static void test_large(void)
{
    for (int k = 0; k < 2; k++) {
        size_t n = large_sizes[k];
        hak_public_stats_t s0 = stats();
        for (int other = 0; other < 2; other++) {
            char *p = xmalloc(n);
            p[0] = p[n - 1] = 1;
            hak_public_stats_t s1 = stats();
            CHECKF(s1.bytes_live - s0.bytes_live >= n, "%zu bytes: %llu live", n, s1.bytes_live - s0.bytes_live);
            if (other)
                join(free_one, p);
            else
                T_FREE(p);
            hak_public_stats_t s2 = stats();
            CHECKF(s2.bytes_live == s0.bytes_live, "%zu bytes, freed by %s thread: live %llu -> %llu", n,
                   other ? "another" : "its", s0.bytes_live, s2.bytes_live);
            CHECKF(s2.remote_frees == s0.remote_frees, "%zu bytes: %llu remote frees", n,
                   s2.remote_frees - s0.remote_frees);
        }
    }
}

/* ---- bad input, in a child ---- */

/* The child prints "target=%p" (the pointer the bad free passes), then does
 * it; it must die by SIGABRT with "hakmem: free(): <what> <target>". */
static void expect_abort(const char *name, void (*bad)(void), const char *what)
{
    int fd[2];
    if (pipe(fd))
        DIE("pipe");
    pid_t pid = fork();
    if (pid < 0)
        DIE("fork");
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        signal(SIGABRT, SIG_DFL);
        alarm(20);
        bad();
        _exit(0);   /* not detected */
    }
    close(fd[1]);
    char out[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof out - 1 && (r = read(fd[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    fprintf(stderr, "%s: child stderr:\n%s", name, out);
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: status %#x, want SIGABRT", name, st);
    char want[128];
    const char *t = strstr(out, "target=");
    CHECKF(t, "%s: the child printed no target", name);
    if (t) {
        snprintf(want, sizeof want, "hakmem: free(): %s %.*s", what, (int)strcspn(t + 7, "\n"), t + 7);
        CHECKF(strstr(out, want), "%s: no \"%s\"", name, want);
    }
}

static void bad_free(void *p)
{
    fprintf(stderr, "target=%p\n", p);
    T_FREE(p);
}

static void map_interior(void) { bad_free((char *)xmalloc(64 << 20) + 8); }

static void map_double(void)
{
    void *p = xmalloc(64 << 20);
    T_FREE(p);
    bad_free(p);
}

static void remote_double(void)
{
    void *p = xmalloc(64);
    hak_public_stats_t s0 = stats();
    join(free_one, p);
    if (stats().remote_backlog != s0.remote_backlog + 1)
        _exit(94);   /* not pending on the span */
    bad_free(p);
}

static void mid_flushed_double(void)
{
    enum { N = 256 };
    static void *v[N];
    for (int i = 0; i < N; i++)
        v[i] = xmalloc(MID);
    hak_public_stats_t s0 = stats();
    for (int i = 0; i < N; i++)
        T_FREE(v[i]);
    if (stats().flushes == s0.flushes)
        _exit(95);   /* the first freed block would still be in the magazine */
    bad_free(v[0]);
}

static void test_bad_map_interior(void) { expect_abort("map_interior", map_interior, "invalid pointer"); }
static void test_bad_map_double(void) { expect_abort("map_double", map_double, "invalid pointer"); }
static void test_bad_remote_double(void) { expect_abort("remote_double", remote_double, "double free of"); }
static void test_bad_mid_flushed_double(void)
{
    expect_abort("mid_flushed_double", mid_flushed_double, "double free of");
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        { "full_magazine", test_full_magazine },
        { "remote_back", test_remote_back },
        { "mid_other", test_mid_other },
        { "heapless", test_heapless },
        { "large", test_large },
        { "bad_map_interior", test_bad_map_interior },
        { "bad_map_double", test_bad_map_double },
        { "bad_remote_double", test_bad_remote_double },
        { "bad_mid_flushed_double", test_bad_mid_flushed_double },
    };
    for (size_t i = 0; argc == 2 && i < sizeof tests / sizeof *tests; i++)
        if (!strcmp(argv[1], tests[i].name)) {
            tests[i].fn();
            fprintf(stderr, "test_free_path %s: %s\n", argv[1], t_failures ? "FAILED" : "ok");
            return t_failures ? 1 : 0;
        }
    fprintf(stderr, "usage: test_free_path SUBTEST (one of the names in main)\n");
    return 2;
}
