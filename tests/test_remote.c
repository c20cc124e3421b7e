/* Remote frees go to the span that owns the block.  Subtests:
 *   idle_release   an owner allocates full spans and goes idle; another
 *                  thread frees every block; hak_release_free_memory()
 *                  collects them (backlog 0) and gives the spans back
 *   idle_reuse     the same, then the owner allocates again: its refill
 *                  collects the frees into its full spans (no new spans)
 *   abandoned      an owner exits with live blocks; others free half of them
 *                  into the abandoned spans; a third thread adopts the spans
 *                  with their pending frees; the live half stays intact
 *   exit_unflushed a thread frees a few blocks of another thread's spans
 *                  (fewer than an outbox holds) and exits: they reach the spans
 *   fork_push      the parent forks while threads push remote frees; each
 *                  child allocates and frees across threads and releases
 *   owner          a block freed by another thread is counted as a remote
 *                  free and is not handed out again by the freeing thread
 *   full           frees beyond the magazine's capacity flush (counted)
 * The other cases free() sends to its slow path (foreign pointer, interior
 * pointer, a block that is already free) are test_badfree.c's.
 * Every block is filled and checked before it is freed. */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define N_IDLE 60000          /* 64-byte blocks: ~4 MB, 60 full spans */
#define BSZ 64

static void **blocks;
static long nblocks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase;

static void wait_phase(int want)
{
    pthread_mutex_lock(&mu);
    while (phase < want) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void set_phase(int v)
{
    pthread_mutex_lock(&mu);
    phase = v;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void alloc_all(long n, uint64_t tag)
{
    for (long i = 0; i < n; i++) {
        blocks[i] = T_MALLOC(BSZ);
        if (!blocks[i]) DIE("malloc failed");
        t_fill(blocks[i], BSZ, tag);
    }
}

static void free_range(long from, long to, long step, uint64_t tag)
{
    for (long i = from; i < to; i += step) {
        CHECKF(t_check(blocks[i], BSZ, tag) == (size_t)-1, "block %ld changed", i);
        T_FREE(blocks[i]);
        blocks[i] = NULL;
    }
}

static hak_public_stats_t stats(void)
{
    hak_public_stats_t s;
    if (!t_get_stats(&s)) DIE("hak_get_stats not found");
    return s;
}

/* The owner: allocates, goes idle until phase 2, then (reuse) allocates again. */
static int reuse_mode;
static hak_public_stats_t held_after_first;
static void *idle_owner(void *a)
{
    alloc_all(nblocks, 1);
    set_phase(1);
    wait_phase(2);
    if (reuse_mode) {
        hak_public_stats_t before = stats();
        alloc_all(nblocks, 2);
        hak_public_stats_t after = stats();
        CHECKF(after.bytes_held <= before.bytes_held + (1u << 20),
               "refill took new spans: held %llu -> %llu", before.bytes_held, after.bytes_held);
        free_range(0, nblocks, 1, 2);
    }
    return NULL;
}

static int run_idle(int reuse)
{
    reuse_mode = reuse;
    nblocks = N_IDLE;
    blocks = calloc((size_t)nblocks, sizeof *blocks);
    hak_public_stats_t s0 = stats();
    pthread_t th;
    pthread_create(&th, NULL, idle_owner, NULL);
    wait_phase(1);
    held_after_first = stats();
    free_range(0, nblocks, 1, 1);            /* remote frees into the idle owner's full spans */
    hak_public_stats_t s1 = stats();
    CHECKF(s1.remote_frees - s0.remote_frees + 64 >= (unsigned long long)nblocks,
           "remote_frees %llu, want about %ld", s1.remote_frees - s0.remote_frees, nblocks);
    if (!reuse) {
        t_release_free_memory();
        hak_public_stats_t s2 = stats();
        fprintf(stderr, "held: before %llu, owner full %llu, after release %llu; backlog %llu -> %llu\n",
                s0.bytes_held, held_after_first.bytes_held, s2.bytes_held, s1.remote_backlog, s2.remote_backlog);
        CHECKF(s1.remote_backlog > 0, "no backlog while the owner is idle");
        CHECKF(s2.remote_backlog == 0, "backlog %llu after release", s2.remote_backlog);
        CHECKF(s2.bytes_held + (unsigned long long)nblocks * BSZ * 3 / 4 <= held_after_first.bytes_held,
               "the idle owner's spans were not given back (%llu -> %llu)", held_after_first.bytes_held, s2.bytes_held);
    }
    set_phase(2);
    pthread_join(th, NULL);
    free(blocks);
    phase = 0;
    return 0;
}

/* ---- abandoned spans with pending frees ---- */
static void *exiting_owner(void *a) { alloc_all(nblocks, 3); return NULL; }
static void *half_freer(void *a) { free_range((long)(uintptr_t)a, nblocks, 4, 3); return NULL; }
static void *adopter(void *a)
{
    void **mine = calloc((size_t)nblocks, sizeof *mine);
    for (long i = 0; i < nblocks / 2; i++) {
        mine[i] = T_MALLOC(BSZ);
        t_fill(mine[i], BSZ, 4);
    }
    for (long i = 0; i < nblocks / 2; i++) {
        CHECK(t_check(mine[i], BSZ, 4) == (size_t)-1);
        T_FREE(mine[i]);
    }
    free(mine);
    return NULL;
}

static int run_abandoned(void)
{
    nblocks = N_IDLE;
    blocks = calloc((size_t)nblocks, sizeof *blocks);
    hak_public_stats_t s0 = stats();
    pthread_t th[2];
    pthread_create(&th[0], NULL, exiting_owner, NULL);
    pthread_join(th[0], NULL);               /* its spans are abandoned, all blocks live */
    pthread_create(&th[0], NULL, half_freer, (void *)0);
    pthread_create(&th[1], NULL, half_freer, (void *)2);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);               /* half of them pending on abandoned spans */
    pthread_create(&th[0], NULL, adopter, NULL);
    pthread_join(th[0], NULL);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.spans_adopted > s0.spans_adopted, "no span adopted");
    for (long i = 0; i < nblocks; i++)       /* the live half is intact */
        if (blocks[i]) CHECKF(t_check(blocks[i], BSZ, 3) == (size_t)-1, "live block %ld changed", i);
    free_range(1, nblocks, 2, 3);
    t_release_free_memory();
    hak_public_stats_t s2 = stats();
    fprintf(stderr, "held %llu -> %llu, adopted %llu, backlog %llu\n", s0.bytes_held, s2.bytes_held,
            s1.spans_adopted - s0.spans_adopted, s2.remote_backlog);
    CHECKF(s2.bytes_held <= s0.bytes_held + (2u << 20), "spans kept after everything was freed");
    CHECKF(s2.remote_backlog == 0, "backlog %llu", s2.remote_backlog);
    free(blocks);
    return 0;
}

/* ---- a thread exits with remote frees gathered but not pushed ---- */
static void *few_freer(void *a) { free_range(0, nblocks, 1, 5); return NULL; }
static int run_exit_unflushed(void)
{
    nblocks = 10;
    blocks = calloc((size_t)nblocks, sizeof *blocks);
    alloc_all(nblocks, 5);
    hak_public_stats_t s0 = stats();
    pthread_t th;
    pthread_create(&th, NULL, few_freer, NULL);
    pthread_join(th, NULL);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.remote_frees - s0.remote_frees == (unsigned long long)nblocks,
           "%llu of %ld pushed at thread exit", s1.remote_frees - s0.remote_frees, nblocks);
    /* the owner (this thread) gets them back when it needs blocks */
    t_release_free_memory();
    CHECKF(stats().remote_backlog == 0, "backlog after release");
    free(blocks);
    return 0;
}

/* ---- fork while threads push remote frees ---- */
#define RING 1024
static _Atomic(void *) ring[RING];
static atomic_int stop;
static void *ring_thread(void *a)
{
    uint64_t rs = 77 + (uintptr_t)a;
    while (!atomic_load(&stop)) {
        size_t n = 16 + t_rand(&rs) % 1000;
        void *p = T_MALLOC(n);
        t_fill(p, n, n);
        void *old = atomic_exchange(&ring[t_rand(&rs) % RING], p);
        if (old)
            T_FREE(old);               /* mostly another thread's block */
    }
    return NULL;
}

static int child_work(void)
{
    for (int i = 0; i < RING; i++) {        /* the parent's blocks, some pending remote frees */
        void *p = atomic_exchange(&ring[i], NULL);
        if (p) T_FREE(p);
    }
    atomic_store(&stop, 0);
    pthread_t th[2];
    for (uintptr_t i = 0; i < 2; i++) pthread_create(&th[i], NULL, ring_thread, (void *)i);
    usleep(50000);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < RING; i++) {
        void *p = atomic_exchange(&ring[i], NULL);
        if (p) T_FREE(p);
    }
    t_release_free_memory();
    return t_failures ? 1 : 0;
}

static int run_fork_push(void)
{
    pthread_t th[3];
    for (uintptr_t i = 0; i < 3; i++) pthread_create(&th[i], NULL, ring_thread, (void *)i);
    for (int k = 0; k < 20; k++) {
        usleep(10000);
        pid_t pid = fork();
        if (pid == 0) _exit(child_work());
        int st = 0;
        waitpid(pid, &st, 0);
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed (status %d)", k, st);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < RING; i++) {
        void *p = atomic_exchange(&ring[i], NULL);
        if (p) T_FREE(p);
    }
    return 0;
}

/* ---- free-path cases ---- */
static void *other_free(void *p) { T_FREE(p); return NULL; }
static void *free_then_alloc(void *q)
{
    T_FREE(q);
    void *mine[128];
    for (int i = 0; i < 128; i++) {
        mine[i] = T_MALLOC(BSZ);
        CHECKF(mine[i] != q, "the freeing thread reused another thread's block");
    }
    for (int i = 0; i < 128; i++) T_FREE(mine[i]);
    return NULL;
}

static int run_owner(void)
{
    void *p = T_MALLOC(BSZ);
    hak_public_stats_t s0 = stats();
    pthread_t th;
    pthread_create(&th, NULL, other_free, p);
    pthread_join(th, NULL);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.remote_frees == s0.remote_frees + 1, "remote_frees +%llu", s1.remote_frees - s0.remote_frees);
    void *q = T_MALLOC(BSZ);
    pthread_create(&th, NULL, free_then_alloc, q);
    pthread_join(th, NULL);
    return 0;
}

static int run_full(void)
{
    enum { K = 2000 };
    static void *b[K];
    for (int i = 0; i < K; i++) b[i] = T_MALLOC(BSZ);
    hak_public_stats_t s0 = stats();
    for (int i = 0; i < K; i++) T_FREE(b[i]);
    hak_public_stats_t s1 = stats();
    CHECKF(s1.flushes > s0.flushes, "no flush after %d frees", K);
    return 0;
}

int main(int argc, char **argv)
{
    t_require_hakmem();
    const char *w = argc > 1 ? argv[1] : "";
    if (!strcmp(w, "idle_release")) run_idle(0);
    else if (!strcmp(w, "idle_reuse")) run_idle(1);
    else if (!strcmp(w, "abandoned")) run_abandoned();
    else if (!strcmp(w, "exit_unflushed")) run_exit_unflushed();
    else if (!strcmp(w, "fork_push")) run_fork_push();
    else if (!strcmp(w, "owner")) run_owner();
    else if (!strcmp(w, "full")) run_full();
    else { fprintf(stderr, "unknown subtest '%s'\n", w); return 2; }
    fprintf(stderr, "test_remote %s (%s): %s\n", w, T_MODE_NAME, t_failures ? "FAILED" : "ok");
    return t_failures ? 1 : 0;
}
