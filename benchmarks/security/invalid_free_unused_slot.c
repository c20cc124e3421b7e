/* invalid free: free() of a block start that was never handed out.  Two
 * blocks of SIZE give the stride between neighbours; the address one stride
 * past the second is where a third block would start (for small sizes, in
 * the same page), but it was never allocated. */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b)
        case_error("malloc failed");
    ptrdiff_t stride = b - a;
    if (stride == 0)
        case_error("same block twice");
    char *c = b + stride;
    free(c);
    churn(n, 1);
    free(a);
    free(b);
    not_caught();
}
