/* invalid free: free() of a global (static storage) array. */
#include "catch.h"

static char global_buf[262144 + 4096] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    if (n > 262144)
        case_error("size too large for the global buffer");
    fill(global_buf + 64, 'g', n);
    free(global_buf + 64);
    churn(n, 1);
    not_caught();
}
