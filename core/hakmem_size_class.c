/* Size class tables (see hakmem_size_class.h). */
#include "hakmem_size_class.h"

#define Q(b) (b) + (b) / 4, (b) + (b) / 2, (b) + 3 * (b) / 4, 2 * (b)
const uint32_t hak_class_size[HAK_NCLASS] = {
    16, 32, 48, 64, 80, 96, 112, 128,
    Q(128), Q(256), Q(512),                               /* Tiny: 160 .. 1024 */
    Q(1024), Q(2048), Q(4096), Q(8192), Q(16384),         /* Mid: 1280 .. 32 KiB */
    Q(32768), Q(65536), Q(131072),                        /* Mid: 40 KiB .. 256 KiB */
};

/* index (n + 15) >> 4 for n <= 1024 */
#define R4(c) c, c, c, c
#define R8(c) R4(c), R4(c)
const uint8_t hak_tiny_class_of[HAK_TINY_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7,                 /* 0..128 */
    8, 8, 9, 9, 10, 10, 11, 11,                /* 129..256 */
    R4(12), R4(13), R4(14), R4(15),            /* 257..512 */
    R8(16), R8(17), R8(18), R8(19),            /* 513..1024 */
};
