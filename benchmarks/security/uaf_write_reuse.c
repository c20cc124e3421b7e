/* write after free, then allocations of the same size: overwrites the whole
 * freed block, then allocates, writes and frees blocks of its size (an
 * allocator that checks freed memory when it hands it out gets its chance). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    free(p);
    fill(p, 'W', n);
    churn(n, 1);
    churn(n, 1);
    not_caught();
}
