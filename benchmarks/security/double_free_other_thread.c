/* double free across threads: a second thread frees the block, then the
 * main thread frees it again. */
#include "catch.h"
#include <pthread.h>

static void *freer(void *p)
{
    free(p);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t n = arg_size(argc, argv, 1);
    char *p = malloc(n);
    if (!p)
        case_error("malloc failed");
    fill(p, 't', n);
    pthread_t t;
    if (pthread_create(&t, NULL, freer, p))
        case_error("pthread_create failed");
    pthread_join(t, NULL);
    free(p);
    churn(n, 1);
    not_caught();
}
