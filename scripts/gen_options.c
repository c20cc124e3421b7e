/* Prints the option table (core/hakmem_options.c) for the docs, so that they
 * follow the code instead of being copied from it:
 *   gen_options md      docs/OPTIONS.md (`make docs`; a test diffs the two)
 *   gen_options roff    the OPTIONS section of hakmem(3)
 *   gen_options names   one name per line (the launcher's --set list)
 * Linked with build/libhakmem_api.a: hak_option_info has hidden visibility,
 * which a static link reaches. */
#include "hakmem_options.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *type_name(int t)
{
    switch (t) {
    case HAK_OPT_FLAG: return "flag";
    case HAK_OPT_INT: return "integer";
    case HAK_OPT_REAL: return "number";
    case HAK_OPT_PATH: return "file";
    case HAK_OPT_PER_CLASS: return "integer per class";
    case HAK_OPT_CHOICE: return "word";
    }
    return "?";
}

static const char *group_name(int g)
{
    switch (g) {
    case HAK_OPT_CORE: return "at start";
    case HAK_OPT_ACE: return "when ACE starts";
    }
    return "?";
}

/* integers exactly, the largest u64 by name, fractions as %g */
static const char *num(double x, char *buf, size_t len)
{
    if (x >= 18446744073709551615.0)
        snprintf(buf, len, "2^64-1");
    else if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, len, "%.0f", x);
    else
        snprintf(buf, len, "%g", x);
    return buf;
}

/* A CHOICE's words ('|' between them in the table): every one with sep
 * between them (all != 0), or only the one whose index is the value v. */
static const char *words(const hak_option_t *o, int all, int v, const char *sep, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (const char *w = o->words; *w && n < len; v--) {
        size_t wl = strcspn(w, "|");
        if (all || v == 0)
            n += (size_t)snprintf(buf + n, len - n, "%s%.*s", n ? sep : "", (int)wl, w);
        w += wl + (w[wl] == '|');
    }
    return buf;
}

static const char *def_str(const hak_option_t *o, char *buf, size_t len)
{
    if (o->type == HAK_OPT_CHOICE)
        return words(o, 0, (int)o->def, "", buf, len);
    return o->type == HAK_OPT_PATH ? "none" : num(o->def, buf, len);
}

static const char *range_str(const hak_option_t *o, char *buf, size_t len)
{
    char lo[32], hi[32];
    char w[64];
    if (o->type == HAK_OPT_PATH)
        snprintf(buf, len, "at most %s bytes", num(o->hi, hi, sizeof hi));
    else if (o->type == HAK_OPT_CHOICE)
        snprintf(buf, len, "%s, or %s..%s", words(o, 1, 0, ", ", w, sizeof w), num(o->lo, lo, sizeof lo),
                 num(o->hi, hi, sizeof hi));
    else
        snprintf(buf, len, "%s..%s", num(o->lo, lo, sizeof lo), num(o->hi, hi, sizeof hi));
    return buf;
}

static const char *outside(const hak_option_t *o) { return o->clamp ? "clamped" : "ignored"; }

/* Markdown table cells: no HTML tags, no column breaks */
static void md_text(const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", stdout);
        else if (*s == '>')
            fputs("&gt;", stdout);
        else if (*s == '|')
            fputs("\\|", stdout);
        else
            putchar(*s);
    }
}

static void markdown(void)
{
    char d[32], r[64];
    puts("# hakmem options\n");
    puts("<!-- Generated from the option table in core/hakmem_options.c by `make docs`"
         " (scripts/gen_options.c).\n     Do not edit: the test docs.options fails when"
         " this file and the table differ. -->\n");
    puts("Every `HAKMEM_*` environment variable hakmem reads. *Read*: when the variable is"
         " read (at start: before the first allocation; when ACE starts: each time its"
         " thread is about to start). *Outside the range*: a number outside it is brought"
         " within it (clamped) or the variable is ignored; either way an unusable value is"
         " reported once on stderr with the accepted form:\n");
    puts("    hakmem: ignoring HAKMEM_BUNDLE_WIDTH=wide (expected an integer in 1..1024)\n");
    puts("A knob given here is fixed: ACE leaves it alone. An *integer per class* is `N`"
         " for every size class or `class:N,class:N` (e.g. `0:64,5:16`). The launcher"
         " sets any of them with `hakmem --set name=value` (`tls_cap` for"
         " `HAKMEM_TLS_CAP`).\n");
    puts("| variable | type | default | range | outside the range | read | meaning |");
    puts("|---|---|---|---|---|---|---|");
    for (int id = 0; id < HAK_OPT_N; id++) {
        const hak_option_t *o = hak_option_info(id);
        printf("| `%s` | %s | %s | %s | %s | %s | ", o->name, type_name(o->type), def_str(o, d, sizeof d),
               range_str(o, r, sizeof r), outside(o), group_name(o->group));
        md_text(o->meaning);
        puts(" |");
    }
}

/* roff text: backslashes escaped, no request at a line start */
static void roff_text(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else
            putchar(*s);
    }
}

static void roff(void)
{
    char d[32], r[64];
    for (int id = 0; id < HAK_OPT_N; id++) {
        const hak_option_t *o = hak_option_info(id);
        printf(".TP\n.B \\%%%s\n", o->name);
        roff_text(o->meaning);
        printf(".\n.br\n%s; default %s; range %s (%s outside); read %s.\n", type_name(o->type),
               def_str(o, d, sizeof d), range_str(o, r, sizeof r), outside(o), group_name(o->group));
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc == 2 ? argv[1] : "";
    if (!strcmp(mode, "md"))
        markdown();
    else if (!strcmp(mode, "roff"))
        roff();
    else if (!strcmp(mode, "names"))
        for (int id = 0; id < HAK_OPT_N; id++)
            puts(hak_option_info(id)->name);
    else {
        fprintf(stderr, "usage: %s md|roff|names\n", argv[0]);
        return 2;
    }
    return ferror(stdout) ? 1 : 0;
}
