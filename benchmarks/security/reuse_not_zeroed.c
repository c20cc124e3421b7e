/* memory not zeroed on reuse (inverted): fills a block with 0xA5, frees it,
 * allocates the same size.  caught (exit 1) if the new block is all zero;
 * "not caught" if any byte is not zero (old data or allocator metadata is
 * visible). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    unsigned char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 0xA5, n);
    free(p);
    volatile unsigned char *q = malloc(n);
    if (!q)
        case_error("malloc failed");
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            not_caught();
    behaved("new block is zeroed");
}
