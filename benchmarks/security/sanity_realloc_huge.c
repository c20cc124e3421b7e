/* sanity (inverted): realloc(p, impossible size) must return NULL and leave
 * p intact (SIZE_MAX, SIZE_MAX - 4095, PTRDIFF_MAX + 1).  Correct: caught
 * (exit 1); a success or a damaged p: "not caught". */
#include "catch.h"

int main(void)
{
    size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX + 1};
    char *p = malloc(100);
    if (!p)
        case_error("malloc failed");
    fill(p, 'h', 100);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *q = realloc(p, sizes[i]);
        if (q) {
            fprintf(stderr, "realloc(p, %zu) returned %p\n", sizes[i], q);
            not_caught();
        }
        for (int j = 0; j < 100; j++)
            if (p[j] != 'h')
                not_caught();
    }
    free(p);
    behaved("impossible realloc failed and kept the block");
}
