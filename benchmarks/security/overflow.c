/* heap overflow: REQ DIST.  Allocates REQ bytes and a neighbour of the same
 * size, writes the DIST bytes just past the end of the first block
 * (p[REQ] .. p[REQ+DIST-1], one byte at a time, lowest first), then frees
 * both and keeps allocating the same size. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t req = arg_size(argc, argv, 1), dist = arg_size(argc, argv, 2);
    char *p = malloc(req), *q = malloc(req);
    if (!p || !q)
        case_error("malloc failed");
    fill(p, 'p', req);
    fill(q, 'q', req);
    volatile char *v = p;
    for (size_t i = 0; i < dist; i++)
        v[req + i] = 'X';
    free(p);
    free(q);
    churn(req, 1);
    not_caught();
}
