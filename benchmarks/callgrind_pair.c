/* malloc/free pairs in a loop, for callgrind instruction counts.
 *   callgrind_pair pair  N [size]        N pairs, one block at a time
 *   callgrind_pair empty N [size]        the same loop without the calls
 *   callgrind_pair batch N size B        N pairs in batches of B: allocate B blocks,
 *                                        then free them in reverse order (N % B == 0)
 *   callgrind_pair batch-empty N size B  the batch loop without the calls
 * scripts/callgrind_pair.sh runs them at two counts and reports the
 * instruction difference per pair, which cancels start-up and first-call
 * initialisation (the batch measure keeps the loop in, the same for every allocator). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 4096
static void *blocks[MAX_BATCH];

/* the measured loop: nothing in it but the calls, the array and the loop */
static __attribute__((noinline)) void batch_calls(long n, size_t size, long b)
{
    for (long k = 0; k < n / b; k++) {
        for (long i = 0; i < b; i++) {
            void *p = malloc(size);
            __asm__ volatile("" : : "r"(p) : "memory");
            blocks[i] = p;
        }
        for (long i = b - 1; i >= 0; i--)
            free(blocks[i]);
    }
}

static __attribute__((noinline)) void batch_empty(long n, long b)
{
    for (long k = 0; k < n / b; k++) {
        for (long i = 0; i < b; i++) {
            void *p = &blocks[i];
            __asm__ volatile("" : : "r"(p) : "memory");
            blocks[i] = p;
        }
        for (long i = b - 1; i >= 0; i--) {
            void *p = blocks[i];
            __asm__ volatile("" : : "r"(p) : "memory");
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s pair|empty N [size] | batch|batch-empty N size B\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    size_t size = argc > 3 ? (size_t)atol(argv[3]) : 32;
    void *warm = malloc(size);   /* first call (lazy init) outside the counted difference */
    free(warm);
    if (!strcmp(argv[1], "batch") || !strcmp(argv[1], "batch-empty")) {
        long b = argc > 4 ? atol(argv[4]) : 1;
        if (b < 1 || b > MAX_BATCH || n % b) { fprintf(stderr, "B must be 1..%d and divide N\n", MAX_BATCH); return 2; }
        if (!strcmp(argv[1], "batch")) batch_calls(n, size, b);
        else batch_empty(n, b);
        return 0;
    }
    int pair = !strcmp(argv[1], "pair");
    for (long i = 0; i < n; i++) {
        if (pair) {
            void *p = malloc(size);
            __asm__ volatile("" : : "r"(p) : "memory");
            free(p);
        } else {
            void *p = &n;
            __asm__ volatile("" : : "r"(p) : "memory");
        }
    }
    return 0;
}
