/* sanity (inverted): heap memory must not be executable.  Looks up blocks of
 * 8 B, 4 KiB, 256 KiB and 1 MiB in /proc/self/maps; any of them in a mapping
 * with x permission: "not caught"; none: caught (exit 1). */
#include "catch.h"

static int executable(uintptr_t a)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        case_error("no /proc/self/maps");
    char line[512];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
            found = perms[2] == 'x';
            break;
        }
    }
    fclose(f);
    if (found < 0)
        case_error("block not in any mapping");
    return found;
}

int main(void)
{
    size_t sizes[] = {8, 4096, 262144, 1 << 20};
    for (int i = 0; i < 4; i++) {
        char *p = malloc(sizes[i]);
        if (!p)
            case_error("malloc failed");
        fill(p, 0xc3, sizes[i]);
        if (executable((uintptr_t)p)) {
            fprintf(stderr, "malloc(%zu) block is executable\n", sizes[i]);
            not_caught();
        }
    }
    behaved("no heap block is executable");
}
