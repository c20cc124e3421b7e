/* Size classes: 16-byte steps to 128 B, then four per power of two up to
 * HAK_MID_MAX.  Classes below HAK_TINY_CLASSES are Tiny (<= 1 KiB, owner-based
 * spans with remote-free queues); the rest are Mid (central pool, bundles). */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#define HAK_NCLASS        52
#define HAK_TINY_CLASSES  20
#define HAK_TINY_MAX      1024u
#define HAK_MID_MAX       (256u * 1024u)
#define HAK_MAG_MAX       64u              /* largest TLS capacity candidate */

extern const uint32_t hak_class_size[HAK_NCLASS];
extern const uint8_t  hak_tiny_class_of[HAK_TINY_MAX / 16 + 1] __attribute__((visibility("hidden")));

static inline int hak_is_tiny_class(int c) { return c < HAK_TINY_CLASSES; }

/* n <= HAK_MID_MAX */
static inline int hak_size_class(size_t n)
{
    if (__builtin_expect(n <= HAK_TINY_MAX, 1))
        return hak_tiny_class_of[(n + 15) >> 4];
    size_t m = n - 1;
    int b = 63 - __builtin_clzl(m);            /* b >= 10 */
    return HAK_TINY_CLASSES + (b - 10) * 4 + (int)((m >> (b - 2)) - 4);
}

#endif
