/* read after free: reads every 8th byte of a freed block (only a stop
 * counts: a value that differs proves nothing), then allocates the same size
 * again. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'r', n);
    free(p);
    volatile char *v = p;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 8)
        sum += (unsigned char)v[i];
    (void)sum;
    churn(n, 1);
    not_caught();
}
