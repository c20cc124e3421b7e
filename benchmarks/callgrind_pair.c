/* One malloc(size)/free pair in a loop, for callgrind instruction counts.
 *   callgrind_pair pair  N [size]   N pairs
 *   callgrind_pair empty N [size]   the same loop without the calls (baseline)
 * scripts/callgrind_pair.sh runs both at N and 2N and reports
 * ((pair(2N) - pair(N)) - (empty(2N) - empty(N))) / N instructions per pair,
 * which cancels start-up, first-call initialisation and the loop itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s pair|empty N [size]\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    size_t size = argc > 3 ? (size_t)atol(argv[3]) : 32;
    int pair = !strcmp(argv[1], "pair");
    void *warm = malloc(size);   /* first call (lazy init) outside the counted difference */
    free(warm);
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
