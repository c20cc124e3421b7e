/* invalid free: free(p + 16), a 16-aligned pointer close to the start of a
 * live block (for an 8-byte block: just past its end). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'n', n);
    free(p + 16);
    churn(n, 1);
    free(p);
    not_caught();
}
