/* Each of the seed's five knobs has a counted effect.  A subtest runs one
 * fixed workload twice, in children that are this program exec'd again with
 * the knob's variable at two values (the other knobs unset, ACE off so
 * nothing moves them), and compares the counter the knob drives
 * (hak_get_stats deltas over the workload).  The expected sizes follow from
 * the slow paths:
 *   tls_cap       HAKMEM_TLS_CAP 8 vs 64, N Tiny frees: a full magazine
 *                 flushes down to cap/2, so N/4 vs N/32 flushes
 *   diet          HAKMEM_DIET_FACTOR 0.25 vs 1.0 scales the cap 64 to 16:
 *                 N/8 vs N/32 flushes
 *   bundle_width  HAKMEM_BUNDLE_WIDTH 4 vs 32, N Mid allocations: a refill
 *                 takes bundle_width blocks (the magazine holds 64), N/4 vs
 *                 N/32 refills
 *   drain_threshold  HAKMEM_DRAIN_THRESHOLD 8 vs 256, a producer's Tiny
 *                 blocks freed by a consumer in lockstep rounds: with 8 every
 *                 refill (one per 64 blocks) collects the frees pushed since
 *                 the last one, with 256 one refill in four does
 *   partial_release_pages  HAKMEM_PARTIAL_RELEASE_PAGES 0 vs 8: spans left
 *                 with one live block each stay sparse through many
 *                 maintenance passes; with 0 no page goes back (no span is
 *                 ever empty), with 8 their free OS pages do, 8 a span a pass
 * Usage: test_knobs_hak SUBTEST (the children: test_knobs_hak SUBTEST child) */
#include "common.h"
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <time.h>

typedef struct { unsigned long long refills, flushes, drains, pages_released; } counts_t;

/* ---- workloads (run in the children) ---- */

#define MAG_N 10000
static void *blocks[MAG_N];

/* N Tiny frees in a row: the magazine fills, then flushes every cap/2 frees */
static void tiny_frees(void)
{
    for (int i = 0; i < MAG_N; i++)
        if (!(blocks[i] = T_MALLOC(64))) DIE("malloc failed");
    for (int i = 0; i < MAG_N; i++) T_FREE(blocks[i]);
}

/* Mid allocations only: each refill finds the magazine empty and takes
 * min(bundle_width, 64) blocks from fresh spans */
#define MID_N 4000
static void mid_allocs(void)
{
    for (int i = 0; i < MID_N; i++)
        if (!(blocks[i] = T_MALLOC(2048))) DIE("malloc failed");
    for (int i = 0; i < MID_N; i++) T_FREE(blocks[i]);
}

/* The producer (this thread, the spans' owner) allocates a round of 64
 * blocks, the consumer frees them; rounds alternate, so where each block is
 * when a refill looks does not depend on scheduling. */
#define ROUNDS 2000
#define ROUND 64
static sem_t round_full, round_empty;

static void *consumer(void *arg)
{
    for (int r = 0; r < ROUNDS; r++) {
        sem_wait(&round_full);
        for (int i = 0; i < ROUND; i++) T_FREE(blocks[i]);
        sem_post(&round_empty);
    }
    return NULL;
}

static void prodcons(void)
{
    pthread_t t;
    sem_init(&round_full, 0, 0);
    sem_init(&round_empty, 0, 0);
    pthread_create(&t, NULL, consumer, NULL);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < ROUND; i++)
            if (!(blocks[i] = T_MALLOC(64))) DIE("malloc failed");
        sem_post(&round_full);
        sem_wait(&round_empty);
    }
    pthread_join(t, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Refills and flushes of 32-byte blocks: slow paths, one in 16 of which
 * reads the clock to see whether a maintenance pass is due */
static void churn(void)
{
    for (int i = 0; i < 128; i++)
        if (!(blocks[i] = T_MALLOC(32))) DIE("malloc failed");
    for (int i = 0; i < 128; i++) T_FREE(blocks[i]);
}

/* NSPANS spans of 256-byte blocks (256 a span, 16 an OS page) keep one live
 * block each: sparse, never empty, so with partial release off nothing goes
 * back.  Then slices of churn (its span kept non-empty too), each longer than
 * the 10 ms period and ending with a few rounds however the thread was
 * scheduled, so each runs a pass: the first marks the sparse spans aged, the
 * next ones release up to the knob's pages of each. */
#define NSPANS 32
#define SPARSE_N (NSPANS * 256)
#define SLICES 5
static void sparse_spans(void)
{
    static void *keep[SPARSE_N];
    int nkeep = 0;
    uintptr_t window = 0;
    for (int i = 0; i < SPARSE_N; i++)
        if (!(blocks[i] = T_MALLOC(256))) DIE("malloc failed");
    for (int i = 0; i < SPARSE_N; i++) {
        uintptr_t w = (uintptr_t)blocks[i] >> 16;   /* a Tiny span is one 64 KiB page */
        if (w != window) {
            window = w;
            keep[nkeep++] = blocks[i];
        } else {
            T_FREE(blocks[i]);
        }
    }
    void *churn_keep = T_MALLOC(32);
    for (int s = 0; s < SLICES; s++) {
        double end = now_s() + 0.012;
        for (int k = 0; now_s() < end || k < 8; k++) churn();
    }
    T_FREE(churn_keep);
    for (int i = 0; i < nkeep; i++) T_FREE(keep[i]);
}

static int child(void (*workload)(void))
{
    hak_public_stats_t a, b;
    hak_get_stats(&a);
    workload();
    hak_get_stats(&b);
    printf("%llu %llu %llu %llu\n", b.refills - a.refills, b.flushes - a.flushes, b.drains - a.drains,
           b.pages_released - a.pages_released);
    return 0;
}

/* ---- the parent: the same workload under two values ---- */

static const char *const knob_vars[] = { "HAKMEM_TLS_CAP", "HAKMEM_DIET_FACTOR", "HAKMEM_BUNDLE_WIDTH",
                                         "HAKMEM_DRAIN_THRESHOLD", "HAKMEM_PARTIAL_RELEASE_PAGES" };

static counts_t run_child(const char *subtest, const char *var, const char *val)
{
    int fd[2];
    if (pipe(fd)) DIE("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) DIE("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        for (size_t i = 0; i < sizeof knob_vars / sizeof *knob_vars; i++) unsetenv(knob_vars[i]);
        setenv(var, val, 1);
        setenv("HAKMEM_ACE_ENABLED", "0", 1);
        char *args[] = { "test_knobs", (char *)subtest, "child", NULL };
        execve("/proc/self/exe", args, environ);
        _exit(127);
    }
    close(fd[1]);
    counts_t c;
    FILE *f = fdopen(fd[0], "r");
    int got = fscanf(f, "%llu %llu %llu %llu", &c.refills, &c.flushes, &c.drains, &c.pages_released);
    fclose(f);
    int st;
    if (waitpid(pid, &st, 0) != pid) DIE("waitpid: %s", strerror(errno));
    if (got != 4 || !WIFEXITED(st) || WEXITSTATUS(st)) DIE("child %s=%s: status %#x, %d counters read", var, val, st, got);
    fprintf(stderr, "%s=%s: refills %llu, flushes %llu, drains %llu, pages_released %llu\n", var, val, c.refills,
            c.flushes, c.drains, c.pages_released);
    return c;
}

/* `more` (under the first value) must be at least `want` times `fewer`:
 * half the ratio the slow paths give, a margin no other effect comes near */
static void expect_ratio(const char *what, unsigned long long more, unsigned long long fewer, double model, double want)
{
    fprintf(stderr, "%s: %llu vs %llu (ratio %.2f, model %.0f, want >= %.0f)\n", what, more, fewer,
            fewer ? (double)more / fewer : 0.0, model, want);
    CHECKF(more > 0 && more >= want * fewer, "%s %llu vs %llu", what, more, fewer);
}

static void t_tls_cap(void)
{
    counts_t a = run_child("tls_cap", "HAKMEM_TLS_CAP", "8"), b = run_child("tls_cap", "HAKMEM_TLS_CAP", "64");
    expect_ratio("flushes, cap 8 vs 64", a.flushes, b.flushes, 8, 4);
}

static void t_diet(void)
{
    counts_t a = run_child("diet", "HAKMEM_DIET_FACTOR", "0.25"), b = run_child("diet", "HAKMEM_DIET_FACTOR", "1.0");
    expect_ratio("flushes, diet 0.25 vs 1.0", a.flushes, b.flushes, 4, 2);
}

static void t_bundle_width(void)
{
    counts_t a = run_child("bundle_width", "HAKMEM_BUNDLE_WIDTH", "4");
    counts_t b = run_child("bundle_width", "HAKMEM_BUNDLE_WIDTH", "32");
    expect_ratio("refills, bundle width 4 vs 32", a.refills, b.refills, 8, 4);
}

static void t_drain_threshold(void)
{
    counts_t a = run_child("drain_threshold", "HAKMEM_DRAIN_THRESHOLD", "8");
    counts_t b = run_child("drain_threshold", "HAKMEM_DRAIN_THRESHOLD", "256");
    expect_ratio("drains, threshold 8 vs 256", a.drains, b.drains, 4, 2);
}

static void t_partial_release_pages(void)
{
    counts_t a = run_child("partial_release_pages", "HAKMEM_PARTIAL_RELEASE_PAGES", "0");
    counts_t b = run_child("partial_release_pages", "HAKMEM_PARTIAL_RELEASE_PAGES", "8");
    fprintf(stderr, "pages_released, 0 vs 8: %llu vs %llu (want 0 and >= %d: 8 of each sparse span)\n",
            a.pages_released, b.pages_released, NSPANS * 8);
    CHECKF(a.pages_released == 0, "%llu pages released with partial release off", a.pages_released);
    CHECKF(b.pages_released >= NSPANS * 8, "%llu pages released with 8 a span", b.pages_released);
}

static const struct {
    const char *name;
    void (*workload)(void);
    void (*test)(void);
} subtests[] = {
    { "tls_cap", tiny_frees, t_tls_cap },
    { "diet", tiny_frees, t_diet },
    { "bundle_width", mid_allocs, t_bundle_width },
    { "drain_threshold", prodcons, t_drain_threshold },
    { "partial_release_pages", sparse_spans, t_partial_release_pages },
};

int main(int argc, char **argv)
{
    for (size_t i = 0; argc > 1 && i < sizeof subtests / sizeof *subtests; i++) {
        if (strcmp(argv[1], subtests[i].name))
            continue;
        if (argc > 2 && !strcmp(argv[2], "child"))
            return child(subtests[i].workload);
        subtests[i].test();
        fprintf(stderr, "test_knobs %s: %s\n", argv[1], t_failures ? "FAILED" : "ok");
        return t_failures ? 1 : 0;
    }
    fprintf(stderr, "usage: %s tls_cap|diet|bundle_width|drain_threshold|partial_release_pages\n", argv[0]);
    return 2;
}
