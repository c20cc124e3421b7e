/* invalid free: free(p + 1), a pointer that no allocator hands out. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'u', n);
    free(p + 1);
    churn(n, 1);
    free(p);
    not_caught();
}
