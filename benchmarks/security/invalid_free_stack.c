/* invalid free: free() of a stack buffer of SIZE bytes.  The 64 bytes in
 * front of it are the program's too, filled like the buffer, so what an
 * allocator reads there as a header is the same in every run. */
#include "catch.h"
#include <alloca.h>

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *area = alloca(n + 128);
    char *buf = (char *)(((uintptr_t)area + 64 + 63) & ~(uintptr_t)63);
    fill(area, 's', (size_t)(buf - area) + n);
    free(buf);
    churn(n, 1);
    not_caught();
}
