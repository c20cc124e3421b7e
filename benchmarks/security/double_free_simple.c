/* double free: free(p); free(p) right away. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'a', n);
    free(p);
    free(p);
    churn(n, 1);
    not_caught();
}
