/* Not a case: a correct program for the runner's self-test.  With argument
 * "hang" it sleeps (the runner's timeout), otherwise it allocates and frees
 * correctly and prints "not caught". */
#include "catch.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "hang"))
        sleep(60);
    size_t n = argc > 1 ? arg_size(argc, argv, 1) : 64;
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 'b', n);
    free(p);
    churn(n, 1);
    not_caught();
}
