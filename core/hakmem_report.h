/* Bad input: one line on stderr, then abort() (see hakmem_report.c). */
#ifndef HAK_REPORT_H
#define HAK_REPORT_H

void hak_report_invalid(const char *call, const void *p) __attribute__((noreturn, cold));
void hak_report_double(const char *call, const void *p) __attribute__((noreturn, cold));

#endif
