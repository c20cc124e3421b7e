/* double free with one free in between: free(a); free(b); free(a) (the
 * pattern that defeats a check of only the most recently freed block). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b)
        case_error("malloc failed");
    free(a);
    free(b);
    free(a);
    churn(n, 1);
    not_caught();
}
