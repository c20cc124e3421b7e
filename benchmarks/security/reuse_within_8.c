/* reuse order (inverted): free(p), then 8 mallocs of the same size (all kept
 * live).  p among them is "not caught"; p not handed out again within 8
 * allocations is caught (exit 1). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    free(p);
    for (int i = 0; i < 8; i++) {
        char *q = malloc(n);
        if (q == p)
            not_caught();
    }
    behaved("freed block not returned within 8 mallocs");
}
