/* reuse order (inverted): free(p) then malloc of the same size.  Getting p
 * back at once (the most predictable reuse) is "not caught"; another address
 * is caught (exit 1). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    free(p);
    char *q = malloc(n);
    if (q == p)
        not_caught();
    behaved("freed block not returned by the next malloc");
}
