/* Shared body of the mem_* cases: SIZE MODE, MODE one of
 *   over1   write SIZE+1 bytes into a SIZE-byte block
 *   over32  write SIZE+32 bytes into it
 *   under1  write SIZE bytes starting 1 byte before it
 * through the library function named by the including file (called through a
 * volatile function pointer, so the compiler cannot inline or check it).
 * A neighbour of the same size is allocated after the block; both are freed
 * and the same size is allocated again afterwards. */
#include "catch.h"

static void do_write(char *dst, const char *src, size_t len); /* per file */

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    if (argc < 3)
        case_error("missing mode");
    const char *mode = argv[2];
    char *p = malloc(n), *q = malloc(n);
    char *src = malloc(n + 64);
    if (!p || !q || !src)
        case_error("malloc failed");
    fill(p, 'p', n);
    fill(q, 'q', n);
    fill(src, 'S', n + 63);
    src[n + 63] = 0;
    if (!strcmp(mode, "over1"))
        do_write(p, src, n + 1);
    else if (!strcmp(mode, "over32"))
        do_write(p, src, n + 32);
    else if (!strcmp(mode, "under1"))
        do_write(p - 1, src, n);
    else
        case_error("unknown mode");
    free(p);
    free(q);
    churn(n, 1);
    free(src);
    not_caught();
}
