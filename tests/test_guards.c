/* White-box tests of the protections the default build keeps at no cost on
 * the fast paths: each bad access runs in a child process (fork) that must
 * die by SIGSEGV; the parent checks that the memory next to it is usable.
 *   seg_guard      the OS pages of a segment's page 0 after the span
 *                  descriptors are PROT_NONE: a write just below the first
 *                  span, and one at the guard's first byte, fault; the last
 *                  descriptor byte reads
 *   seg_highwater  a segment's pages above its high-water mark (`top`) are
 *                  PROT_NONE: a write at the mark faults, the byte below it
 *                  is usable; the mark rises with the spans (one page per
 *                  Tiny span) and a write at the old mark then works; under
 *                  HAKMEM_HUGEPAGES it rises by halves of the segment
 *   heap_guard     a thread heap sits between PROT_NONE pages: a write just
 *                  past its end and one just below its first OS page fault,
 *                  in the creating thread, for a pooled heap reused by a new
 *                  thread, and in a forked child
 *   secret_ro      the free-mark key is read-only after initialisation: a
 *                  write faults (also in a forked child); it is odd
 * Built linked with libhakmem_api.a (the core's hidden symbols); see
 * tests/Makefile.  Run as: test_guards [name-substring].  seg_highwater needs
 * a fresh process (it fills the only segment's low pages), run_all.sh runs
 * each subtest in a process of its own.
 */
#define HAK_API_MODE 1
#include "common.h"
#include "hakmem_heap.h"
#include "hakmem_options.h"
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* fn(arg) in a child: it must die by SIGSEGV */
#define EXPECT_SEGV(what, fn, arg) CHECKF(dies_by_segv(fn, arg), "%s did not fault", what)

static int dies_by_segv(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        DIE("fork: %s", strerror(errno));
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL);
        alarm(10);
        fn(arg);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        DIE("waitpid: %s", strerror(errno));
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV) {
        fprintf(stderr, "  child %s %d\n", WIFSIGNALED(st) ? "died by signal" : "exited with",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        return 0;
    }
    return 1;
}

static void write_byte(void *p) { *(volatile char *)p = 1; }
static char read_byte(const void *p) { return *(const volatile char *)p; }
static void read_void(void *p) { (void)read_byte(p); }

static size_t os_page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static hak_segment_t *segment_of_block(void *p) { return (hak_segment_t *)((uintptr_t)p & ~(HAK_SEG_SIZE - 1)); }

/* ---- segments ---- */

static void test_seg_guard(void)
{
    char *p = hak_malloc(32);
    CHECK(p != NULL);
    hak_segment_t *seg = segment_of_block(p);
    char *first_span = (char *)seg + HAK_PAGE_SIZE;
    size_t hdr = (sizeof(hak_segment_t) + os_page() - 1) & ~(os_page() - 1);
    if (hdr >= HAK_PAGE_SIZE) {
        fprintf(stderr, "  OS page %zu: page 0 has no room for a guard, skipped\n", os_page());
        hak_free(p);
        return;
    }
    (void)read_byte((char *)seg + sizeof(hak_segment_t) - 1);   /* the descriptors are readable */
    (void)read_byte(first_span);                                 /* and so is the first span */
    EXPECT_SEGV("a write just below the first span", write_byte, first_span - 1);
    EXPECT_SEGV("a write at the guard's first byte", write_byte, (char *)seg + hdr);
    EXPECT_SEGV("a write in the middle of the guard", write_byte, (char *)seg + (hdr + HAK_PAGE_SIZE) / 2);
    hak_free(p);
}

static void test_seg_highwater(void)
{
    char *p = hak_malloc(32);
    CHECK(p != NULL);
    hak_segment_t *seg = segment_of_block(p);
    uint32_t top = __atomic_load_n(&seg->top, __ATOMIC_RELAXED);
    if (hak_option_u64(HAK_OPT_HUGEPAGES)) {   /* by halves: the first 2 MiB at once */
        CHECKF(top == HAK_SEG_PAGES / 2, "HAKMEM_HUGEPAGES: a fresh segment has top %u", top);
        write_byte((char *)seg + HAK_SEG_SIZE / 2 - 1);
        EXPECT_SEGV("a write at the upper half", write_byte, (char *)seg + HAK_SEG_SIZE / 2);
        hak_free(p);
        return;
    }
    CHECKF(top > 1 && top < HAK_SEG_PAGES / 2, "a fresh process's segment has top %u", top);
    char *mark = (char *)seg + ((uintptr_t)top << HAK_PAGE_SHIFT);
    /* below the mark: read-write (the last byte of the span's last block,
     * never handed out: no link or mark lives there) */
    write_byte(mark - 1);
    EXPECT_SEGV("a write at the high-water mark", write_byte, mark);
    EXPECT_SEGV("a read at the mark", read_void, mark);
    EXPECT_SEGV("a read at the last byte of the segment", read_void, (char *)seg + HAK_SEG_SIZE - 1);

    /* a block of another Tiny class: a span of one page at the mark, which
     * rises by that page */
    char *q = hak_malloc(48);
    CHECK(q != NULL);
    uint32_t now = __atomic_load_n(&seg->top, __ATOMIC_RELAXED);
    CHECKF(segment_of_block(q) == seg && now == top + 1, "block %p, mark %u -> %u", (void *)q, top, now);
    CHECKF((uintptr_t)q >= (uintptr_t)mark && (uintptr_t)q < (uintptr_t)mark + HAK_PAGE_SIZE, "block %p not at the old mark %p",
           (void *)q, (void *)mark);
    (void)read_byte(mark);   /* the old mark is in a span now */
    write_byte(q + 47);
    EXPECT_SEGV("a write at the risen mark", write_byte, (char *)seg + ((uintptr_t)now << HAK_PAGE_SHIFT));
    hak_free(q);
    hak_free(p);
}

/* ---- thread heaps ---- */

static void heap_faults(const char *who, hak_heap_t *h)
{
    char *end = (char *)(h + 1);
    char *front = (char *)((uintptr_t)h & ~(os_page() - 1));
    write_byte(end - 1);     /* the heap's last byte (its inbox line) */
    (void)read_byte(front);  /* its first OS page */
    char what[96];
    snprintf(what, sizeof what, "%s: a write just past the heap", who);
    EXPECT_SEGV(what, write_byte, end);
    snprintf(what, sizeof what, "%s: a write just below the heap's first OS page", who);
    EXPECT_SEGV(what, write_byte, front - 1);
}

static hak_heap_t *thread_heap;

static void *in_thread(void *arg)
{
    void *p = hak_malloc(100);
    thread_heap = hak_tl_heap;
    if (arg)
        heap_faults("a new thread's heap", thread_heap);
    hak_free(p);
    return NULL;
}

static void test_heap_guard(void)
{
    void *p = hak_malloc(64);
    CHECK(p != NULL);
    hak_heap_t *h = hak_tl_heap;
    CHECK(h == hak_heap_get());
    heap_faults("main's heap", h);

    /* a thread's heap, pooled at its exit and taken by the next thread */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, in_thread, (void *)1) == 0 && pthread_join(t, NULL) == 0);
    hak_heap_t *first = thread_heap;
    CHECK(pthread_create(&t, NULL, in_thread, NULL) == 0 && pthread_join(t, NULL) == 0);
    CHECKF(thread_heap == first, "the second thread got heap %p, not the pooled %p", (void *)thread_heap,
           (void *)first);
    heap_faults("a pooled heap", thread_heap);

    /* a forked child's heaps are the parent's, guards included */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int before = t_failures;
        hak_free(hak_malloc(64));
        heap_faults("a forked child's heap", hak_tl_heap);
        _exit(t_failures != before);
    }
    int st;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    hak_free(p);
}

/* ---- the secrets ---- */

static void write_secret(void *arg) { hak_secrets.free_mark = (uintptr_t)arg; }

static void test_secret_ro(void)
{
    hak_free(hak_malloc(16));   /* initialised */
    if (os_page() != sizeof hak_secrets) {
        fprintf(stderr, "  OS page %zu: the secrets are not protected, skipped\n", os_page());
        return;
    }
    uintptr_t k = __atomic_load_n(&hak_secrets.free_mark, __ATOMIC_RELAXED);
    CHECKF(k & 1, "free mark %#lx is even", (unsigned long)k);
    CHECK((uintptr_t)&hak_secrets % os_page() == 0);
    EXPECT_SEGV("a write of the free mark", write_secret, (void *)0);
    EXPECT_SEGV("a write of the secrets' last byte", write_byte, (char *)&hak_secrets + sizeof hak_secrets - 1);
    /* a forked child keeps the key, read-only */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(hak_secrets.free_mark == k && dies_by_segv(write_secret, (void *)1) ? 0 : 1);
    int st;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(hak_secrets.free_mark == k);
}

static const struct test tests[] = {
    { "seg_guard", test_seg_guard },
    { "seg_highwater", test_seg_highwater },
    { "heap_guard", test_heap_guard },
    { "secret_ro", test_secret_ro },
};

int main(int argc, char **argv) { return t_run("test_guards", tests, sizeof tests / sizeof *tests, argc, argv); }
