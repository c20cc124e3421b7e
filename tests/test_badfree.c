/* Bad input: each case runs in a child process (fork + waitpid) whose stderr
 * goes to a pipe.  The child must die by SIGABRT and its stderr must contain
 * "hakmem" and the call name ("free" / "realloc").  The parent also checks
 * that its own heap still works afterwards.
 *
 * Cases: free of a stack pointer, a global, a pointer from a private mmap,
 * an interior pointer (p+8) of a tiny / mid / large block, double free of a
 * tiny / mid / large block (the block is still free), realloc of a stack
 * pointer and of an interior pointer, free_sized of a stack pointer.
 * hakmem only (skipped under glibc), with the exact message checked: free,
 * realloc and malloc_usable_size of a block start that was never handed out
 * (the last block of a Tiny span whose first blocks are in use; spans hand
 * out their lowest free blocks first).
 *
 * Sized frees whose size cannot be the block's (sized_*): free_sized with a
 * size above the block's class or below half of it (what realloc may leave
 * in place is accepted), of a Tiny, a Mid and a Large block, above a Large
 * block's usable size, free_aligned_sized whose (alignment, size) gives
 * another class, or a class where the block is Large, and a double free and
 * an interior pointer through free_sized.  For these the child writes the
 * exact line it expects to a second pipe before the bad call, and its stderr
 * must be that line.
 *
 * NOT detected (documented in the design; no test asserts them):
 *   - a double free after the block has been handed out again (the second
 *     free frees the new owner's block; indistinguishable from a valid free)
 *   - a free of a pointer into a hakmem segment that looks like a valid block
 *     start of the right class (e.g. p + block_size inside the same span when
 *     that neighbour is live) - it is a valid block, just not the caller's
 *   - use after free, buffer overflows into a neighbour (no canaries)
 *   - free_sized with a wrong size that realloc could have left in the block
 *     (bsize/2 <= n <= bsize for Tiny/Mid; n >= 32 KiB up to the usable size
 *     for a Large block), or within the block's class
 *   - a double free that races with a reallocation in another thread
 */
#include "common.h"
#include "child.h"
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>

static char global_buf[256] __attribute__((aligned(64)));
static volatile void *sink;
/* free_sized(p, n) on a block of class (or usable size) u: the message */
static void sized_case(size_t alloc, size_t n, int large)
{
    char *p = T_MALLOC(alloc);
    if (!p) _exit(90);
    t_expect("hakmem: free_sized(): size %zu does not match the block at %p (%s %zu %s)\n", n, (void *)p,
           large ? "a Large block of" : "class of", T_USABLE(p), large ? "usable bytes" : "bytes");
    T_FREE_SIZED(p, n);
}

static void aligned_sized_case(size_t align, size_t alloc, size_t a2, size_t n, int large)
{
    char *p = T_ALIGNED_ALLOC(align, alloc);
    if (!p) _exit(90);
    t_expect("hakmem: free_aligned_sized(): size %zu, alignment %zu does not match the block at %p (%s %zu %s)\n", n,
           a2, (void *)p, large ? "a Large block of" : "class of", T_USABLE(p), large ? "usable bytes" : "bytes");
    T_FREE_ALIGNED_SIZED(p, a2, n);
}

/* The last block start of the 64 KiB Tiny span of a fresh 48-byte block: a
 * span hands out its lowest free blocks first, and a refill takes at most a
 * magazine (64), so this one was never handed out. */
static char *never_handed_out(const char *call)
{
    char *p = T_MALLOC(48);
    sink = p;
    uintptr_t span = (uintptr_t)p & ~(uintptr_t)0xffff;
    char *q = (char *)(span + (65536 / 48 - 1) * 48);
    t_expect("hakmem: %s: invalid pointer %p (not a block hakmem handed out)\n", call, (void *)q);
    return q;
}

static void do_case(const char *name)
{
    char stack_buf[256] __attribute__((aligned(64)));
    stack_buf[0] = 1;
    if (!strcmp(name, "stack")) T_FREE(stack_buf + 64);
    else if (!strcmp(name, "global")) T_FREE(global_buf + 64);
    else if (!strcmp(name, "mmap")) {
        char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) _exit(90);
        m[0] = 1;
        T_FREE(m + 4096);
    } else if (!strcmp(name, "mmap_base")) {
        char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) _exit(90);
        T_FREE(m);
    } else if (!strcmp(name, "interior_tiny")) {
        char *p = T_MALLOC(64); sink = p; T_FREE(p + 8);
    } else if (!strcmp(name, "interior_mid")) {
        char *p = T_MALLOC(20000); sink = p; T_FREE(p + 8);
    } else if (!strcmp(name, "interior_large")) {
        char *p = T_MALLOC(2 << 20); sink = p; T_FREE(p + 8);
    } else if (!strcmp(name, "double_tiny")) {
        char *p = T_MALLOC(64); T_FREE(p); T_FREE(p);
    } else if (!strcmp(name, "double_mid")) {
        char *p = T_MALLOC(20000); T_FREE(p); T_FREE(p);
    } else if (!strcmp(name, "double_large")) {
        char *p = T_MALLOC(2 << 20); T_FREE(p); T_FREE(p);
    } else if (!strcmp(name, "double_tiny_busy")) {
        /* double free while other blocks of the class come and go */
        void *v[100];
        for (int i = 0; i < 100; i++) v[i] = T_MALLOC(48);
        char *p = T_MALLOC(48);
        for (int i = 0; i < 50; i++) T_FREE(v[i]);
        T_FREE(p);
        for (int i = 50; i < 100; i++) T_FREE(v[i]);
        T_FREE(p);
    } else if (!strcmp(name, "realloc_stack")) {
        sink = T_REALLOC(stack_buf + 64, 100);
    } else if (!strcmp(name, "realloc_interior")) {
        char *p = T_MALLOC(5000); sink = p; sink = T_REALLOC(p + 16, 10000);
    } else if (!strcmp(name, "never_tiny")) {
        T_FREE(never_handed_out("free()"));
    } else if (!strcmp(name, "realloc_never")) {
        sink = T_REALLOC(never_handed_out("realloc()"), 100);
    } else if (!strcmp(name, "usable_never")) {
        sink = (void *)T_USABLE(never_handed_out("malloc_usable_size()"));
    } else if (!strcmp(name, "free_sized_stack")) {
        if (!T_HAVE_FREE_SIZED) _exit(91);
        T_FREE_SIZED(stack_buf + 64, 64);
    } else if (!strncmp(name, "sized_", 6) && !T_HAVE_FREE_SIZED) {
        _exit(91);
    } else if (!strcmp(name, "sized_tiny")) {
        sized_case(32, 48, 0);                 /* above the class */
    } else if (!strcmp(name, "sized_tiny_small")) {
        sized_case(64, 16, 0);                 /* below half the class */
    } else if (!strcmp(name, "sized_mid")) {
        sized_case(20000, 30000, 0);
    } else if (!strcmp(name, "sized_mid_small")) {
        sized_case(20000, 5000, 0);
    } else if (!strcmp(name, "sized_large")) {
        sized_case(2 << 20, 100, 1);           /* a Tiny size for a Large block */
    } else if (!strcmp(name, "sized_large_over")) {
        char *p = T_MALLOC(1 << 20);
        if (!p) _exit(90);
        size_t u = T_USABLE(p);
        T_FREE(p);
        sized_case(1 << 20, u + 1, 1);          /* the same block again, past its end */
    } else if (!strcmp(name, "sized_aligned")) {
        aligned_sized_case(64, 100, 64, 200, 0);   /* (64, 100): class 128; (64, 200): class 256 */
    } else if (!strcmp(name, "sized_aligned_large")) {
        aligned_sized_case(1 << 20, 100, 16, 100, 1);  /* alignment 16 would be a class */
    } else if (!strcmp(name, "sized_double")) {
        char *p = T_MALLOC(64);
        T_FREE(p);
        t_expect("hakmem: free_sized(): double free of %p (the block is already free)\n", (void *)p);
        T_FREE_SIZED(p, 64);
    } else if (!strcmp(name, "sized_interior")) {
        char *p = T_MALLOC(64);
        sink = p;
        t_expect("hakmem: free_sized(): invalid pointer %p (not a block hakmem handed out)\n", (void *)(p + 16));
        T_FREE_SIZED(p + 16, 48);
    } else {
        fprintf(stderr, "unknown case %s\n", name);
        _exit(92);
    }
    _exit(0);   /* reached only when the bad input was not detected */
}

static int run_case(const char *name)
{
    const char *call = !strncmp(name, "realloc", 7) ? "realloc" : !strncmp(name, "usable", 6) ? "malloc_usable_size" : "free";
    t_child_t c;
    t_run_child(do_case, name, &c);
    int ok = 1, st = c.status;
    size_t len = strlen(c.out);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
        ok = 0;
        if (WIFSIGNALED(st)) fprintf(stderr, "FAIL %s: died by signal %d (%s), want SIGABRT\n", name, WTERMSIG(st), strsignal(WTERMSIG(st)));
        else if (WEXITSTATUS(st) == 0) fprintf(stderr, "FAIL %s: not detected (child exited 0)\n", name);
        else fprintf(stderr, "FAIL %s: child exited with %d\n", name, WEXITSTATUS(st));
    }
    if (!strstr(c.out, "hakmem") || !strstr(c.out, call)) {
        ok = 0;
        fprintf(stderr, "FAIL %s: stderr lacks \"hakmem\" and \"%s\"\n", name, call);
    }
    if (c.want[0] && strcmp(c.out, c.want)) {
        ok = 0;
        fprintf(stderr, "FAIL %s: stderr is not exactly the line %s", name, c.want);
    }
    fprintf(stderr, "%s %s: child stderr: %s%s", ok ? "ok  " : "FAIL", name, len ? c.out : "(empty)\n", (len && c.out[len - 1] != '\n') ? "\n" : "");
    return ok;
}

static const char *cases[] = { "stack", "global", "mmap", "mmap_base", "interior_tiny", "interior_mid",
                               "interior_large", "double_tiny", "double_mid", "double_large",
                               "double_tiny_busy", "realloc_stack", "realloc_interior", "free_sized_stack",
                               "sized_tiny", "sized_tiny_small", "sized_mid", "sized_mid_small", "sized_large",
                               "sized_large_over", "sized_aligned", "sized_aligned_large", "sized_double",
                               "sized_interior", "never_tiny", "realloc_never", "usable_never" };

int main(int argc, char **argv)
{
    t_require_hakmem();
    /* warm the allocator up in the parent so children inherit a used heap */
    void *warm[1000];
    for (int i = 0; i < 1000; i++) warm[i] = T_MALLOC((size_t)(i % 50) * 100 + 1);
    int fails = 0, n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (argc > 1 && strcmp(argv[1], "all") && strcmp(argv[1], cases[i])) continue;
        if ((!strcmp(cases[i], "free_sized_stack") || !strncmp(cases[i], "sized_", 6)) && !T_HAVE_FREE_SIZED) continue;
        if (strstr(cases[i], "never") && !t_hakmem_active()) continue;   /* hakmem's own layout */
        n++;
        if (!run_case(cases[i])) fails++;
    }
    if (!n) { fprintf(stderr, "unknown case\n"); return 2; }
    /* nothing else broke: the parent's heap still works */
    for (int i = 0; i < 1000; i++) T_FREE(warm[i]);
    for (int i = 0; i < 1000; i++) { void *p = T_MALLOC((size_t)i * 37 + 1); memset(p, 1, (size_t)i * 37 + 1); T_FREE(p); }
    fprintf(stderr, "test_badfree (%s): %d cases, %d failed\n", T_MODE_NAME, n, fails);
    return fails ? 1 : 0;
}
