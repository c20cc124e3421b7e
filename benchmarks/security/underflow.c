/* heap underflow: REQ DIST.  Allocates a neighbour and then REQ bytes,
 * writes the DIST bytes just before the start of the second block (p[-1]
 * down to p[-DIST], nearest first), then frees both and keeps allocating
 * the same size. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t req = arg_size(argc, argv, 1), dist = arg_size(argc, argv, 2);
    char *q = malloc(req), *p = malloc(req);
    if (!p || !q)
        case_error("malloc failed");
    fill(q, 'q', req);
    fill(p, 'p', req);
    volatile char *v = p;
    for (size_t i = 1; i <= dist; i++)
        v[-(ptrdiff_t)i] = 'X';
    free(p);
    free(q);
    churn(req, 1);
    not_caught();
}
