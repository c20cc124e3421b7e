/* sanity (inverted): reallocarray(p, n, m) whose product overflows must fail
 * and leave p intact.  Correct: caught (exit 1); a success or a damaged p:
 * "not caught". */
#include "catch.h"

int main(void)
{
    char *p = malloc(64);
    if (!p)
        case_error("malloc failed");
    fill(p, 'k', 64);
    void *q = reallocarray(p, SIZE_MAX / 2 + 2, 2);
    if (q) {
        fprintf(stderr, "reallocarray overflow returned %p\n", q);
        not_caught();
    }
    for (int i = 0; i < 64; i++)
        if (p[i] != 'k')
            not_caught();
    q = reallocarray(p, (size_t)1 << 33, (size_t)1 << 33);
    if (q)
        not_caught();
    free(p);
    behaved("overflowing reallocarray failed and kept the block");
}
