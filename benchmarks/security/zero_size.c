/* zero-size block: SOURCE OP OFFSET.  Gets a block of size 0 (SOURCE:
 * malloc = malloc(0), calloc = calloc(1, 0), aligned = aligned_alloc(64, 0)),
 * then reads (OP read) or writes (OP write) the byte at OFFSET, frees the
 * block and keeps allocating.  Every byte of a zero-size block is out of
 * bounds. */
#include "catch.h"

int main(int argc, char **argv)
{
    if (argc < 4)
        case_error("usage: zero_size SOURCE OP OFFSET");
    const char *src = argv[1], *op = argv[2];
    size_t off = arg_size(argc, argv, 3);
    char *p;
    if (!strcmp(src, "malloc"))
        p = malloc(0);
    else if (!strcmp(src, "calloc"))
        p = calloc(1, 0);
    else if (!strcmp(src, "aligned"))
        p = aligned_alloc(64, 0);
    else
        case_error("unknown source");
    if (!p)
        case_error("zero-size allocation returned NULL");
    volatile char *v = p;
    if (!strcmp(op, "read")) {
        volatile char c = v[off];
        (void)c;
    } else if (!strcmp(op, "write")) {
        v[off] = 'Z';
    } else {
        case_error("unknown op");
    }
    free(p);
    churn(16, 1);
    not_caught();
}
