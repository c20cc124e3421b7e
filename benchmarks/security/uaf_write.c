/* write after free, no later allocation of the same size: overwrites the
 * whole freed block, then only frees other blocks of its size and allocates
 * other sizes. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n), *q = malloc(n);
    if (!p || !q)
        case_error("malloc failed");
    free(p);
    fill(p, 'W', n);
    free(q);
    churn(n, 0);
    not_caught();
}
