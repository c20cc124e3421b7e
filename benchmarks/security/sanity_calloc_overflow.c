/* sanity (inverted): calloc(n, m) whose product overflows size_t must fail
 * (a wrapped product would hand out a tiny block).  All NULL: caught (exit
 * 1); any success: "not caught". */
#include "catch.h"

int main(void)
{
    size_t pairs[][2] = {{SIZE_MAX / 2 + 2, 2}, {(size_t)1 << 32, ((size_t)1 << 32) + 1},
                         {SIZE_MAX, SIZE_MAX}, {((size_t)1 << 62) + 1, 4}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        void *p = calloc(pairs[i][0], pairs[i][1]);
        if (p) {
            fprintf(stderr, "calloc(%zu, %zu) returned %p\n", pairs[i][0], pairs[i][1], p);
            not_caught();
        }
    }
    behaved("every overflowing calloc failed");
}
