/* sanity (inverted): malloc_usable_size() of a stack pointer.  The allocator
 * owns no block there: stopping the process or answering 0 is right (caught);
 * any other answer (a size read from the stack as if it were a header) is
 * "not caught". */
#include "catch.h"
#include <malloc.h>

int main(void)
{
    char buf[256] __attribute__((aligned(64)));
    fill(buf, 0x41, sizeof buf);
    size_t (*volatile usable)(void *) = malloc_usable_size;
    size_t u = usable(buf + 64);
    if (u != 0) {
        fprintf(stderr, "malloc_usable_size(stack) = %zu\n", u);
        not_caught();
    }
    behaved("malloc_usable_size(stack) = 0");
}
