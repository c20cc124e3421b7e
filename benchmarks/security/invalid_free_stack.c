/* invalid free: free() of a stack buffer of SIZE bytes. */
#include "catch.h"
#include <alloca.h>

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *buf = alloca(n + 64);
    buf = (char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    fill(buf, 's', n);
    free(buf);
    churn(n, 1);
    not_caught();
}
