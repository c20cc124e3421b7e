/* Bad input: one line on stderr, then abort() (see hakmem_report.c). */
#ifndef HAK_REPORT_H
#define HAK_REPORT_H

#include <stddef.h>

void hak_report_invalid(const char *call, const void *p) __attribute__((noreturn, cold));
void hak_report_double(const char *call, const void *p) __attribute__((noreturn, cold));
/* A sized free whose size n (align: the alignment given, 0 for none) cannot
 * be the block's: bsize is its class size, its usable bytes when Large, or
 * (secure build) the size it was allocated with. */
enum { HAK_SIZE_CLASS, HAK_SIZE_LARGE, HAK_SIZE_EXACT };
void hak_report_size(const char *call, const void *p, size_t n, size_t align, size_t bsize, int kind)
    __attribute__((noreturn, cold));

#endif
