/* double free after a delay: between the two frees, other blocks of the
 * same size are freed and blocks of other sizes are allocated and freed (no
 * allocation of the same size, so the first free's block cannot have been
 * handed out again and the second free is a real double free). */
#include "catch.h"

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    char *q[8];
    for (int i = 0; i < 8; i++)
        if (!(q[i] = malloc(n)))
            case_error("malloc failed");
    if (!p)
        case_error("malloc failed");
    free(p);
    for (int i = 0; i < 8; i++)
        free(q[i]);
    churn(n, 0);
    free(p);
    churn(n, 1);
    not_caught();
}
