/* Bad input: one line on stderr, then abort(), as glibc does. */
#include "hakmem_report.h"
#include "hakmem_os.h"

void hak_report_invalid(const char *call, const void *p)
{
    hak_fatal("%s: invalid pointer %p (not a block hakmem handed out)", call, p);
}

void hak_report_double(const char *call, const void *p)
{
    hak_fatal("%s: double free of %p (the block is already free)", call, p);
}
