/* free of the old pointer after realloc moved the block (realloc already
 * freed it): q = realloc(p, bigger); free(p). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'r', n);
    char *hold = malloc(n); /* a neighbour, so growing in place is unlikely */
    char *q = realloc(p, n * 8 + 4096);
    if (!q)
        case_error("realloc failed");
    if (q == p)
        case_error("realloc did not move the block");
    free(p);
    churn(n, 1);
    free(q);
    free(hold);
    not_caught();
}
