/* Linked with libhakmem-secure.so (not preloaded: the loader drops
 * LD_PRELOAD in a setuid program).  Prints AT_SECURE; the caller sets
 * HAKMEM_STATS=1 and checks that hakmem's exit statistics appear only when
 * AT_SECURE is 0 (run_all.sh, secure.setuid_env). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

int main(void)
{
    void *volatile p = malloc(100);
    free(p);
    printf("at_secure=%lu\n", getauxval(AT_SECURE));
    return 0;
}
