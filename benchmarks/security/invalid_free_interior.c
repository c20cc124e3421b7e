/* invalid free: free() of a pointer into the middle of a live block
 * (offset SIZE/2 rounded down to 16; 8 bytes for an 8-byte block). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'i', n);
    size_t off = (n / 2) & ~(size_t)15;
    if (off == 0)
        off = 8;
    free(p + off);
    churn(n, 1);
    free(p);
    not_caught();
}
