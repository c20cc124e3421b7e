/* invalid free: free() of the start of a page-aligned mapping the program
 * made itself with mmap (memory the allocator never saw). */
#include "catch.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    size_t len = (n + 4095) & ~(size_t)4095;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        case_error("mmap failed");
    fill(m, 'm', n);
    free(m);
    churn(n, 1);
    not_caught();
}
