/* Sized frees checked against the block (hakmem.c), and the C side of the
 * C++ operators (hakmem_override.c, called from hakmem_new.cc).  Plain C
 * declarations: hakmem_new.cc includes this file and no other of the core. */
#ifndef HAK_SIZED_H
#define HAK_SIZED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hidden: direct calls; nothrow: the C++ callers need no unwinding for them */
#define HAK_SIZED_FN __attribute__((visibility("hidden"), nothrow))

#define HAK_SIZED_REALLOC 1   /* the block may come from realloc (free_sized) */

/* Frees p after checking that n (and align: 0, or the alignment of an
 * aligned form, named in the message) can be the size it was allocated
 * with; aborts with one line naming call otherwise (hak_report_size).
 * NULL: nothing. */
void hak_free_checked(void *p, size_t n, size_t align, int flags, const char *call)
    HAK_SIZED_FN;

/* The C++ operators' allocations and frees (hakmem_override.c): hidden, so
 * the calls are direct, and in the file with malloc, so a static link that
 * takes the operators from libhakmem.a takes its malloc too.  NULL with
 * errno set on failure; hakmem_new.cc throws or calls the new handler. */
void *hak_op_new(size_t n) HAK_SIZED_FN;
void *hak_op_new_aligned(size_t align, size_t n) HAK_SIZED_FN;
void  hak_op_delete(void *p) HAK_SIZED_FN;

#ifdef __cplusplus
}
#endif

#endif
