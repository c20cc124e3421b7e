/* Sized frees checked against the block (hakmem.c). */
#ifndef HAK_SIZED_H
#define HAK_SIZED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hidden: direct calls; nothrow: C++ callers need no unwinding for them */
#define HAK_SIZED_FN __attribute__((visibility("hidden"), nothrow))

#define HAK_SIZED_REALLOC 1   /* the block may come from realloc (free_sized) */

/* Frees p after checking that n (and align: 0, or the alignment of an
 * aligned form, named in the message) can be the size it was allocated
 * with; aborts with one line naming call otherwise (hak_report_size).
 * NULL: nothing. */
void hak_free_checked(void *p, size_t n, size_t align, int flags, const char *call)
    HAK_SIZED_FN;

#ifdef __cplusplus
}
#endif

#endif
