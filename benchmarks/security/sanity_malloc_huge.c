/* sanity (inverted): impossible sizes must fail.  malloc of SIZE_MAX and of
 * sizes just below it (where rounding up to a class or a page wraps around)
 * and of PTRDIFF_MAX + 1 must return NULL.  All NULL: caught (exit 1, the
 * allocator is right); any success: "not caught". */
#include "catch.h"

int main(void)
{
    size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 4095,
                      SIZE_MAX - (1u << 21) + 1, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        if (p) {
            fprintf(stderr, "malloc(%zu) returned %p\n", sizes[i], p);
            not_caught();
        }
    }
    behaved("every impossible malloc failed");
}
