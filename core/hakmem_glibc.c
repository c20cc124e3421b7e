/* glibc's extension API (mallinfo2, mallinfo, malloc_trim, malloc_stats,
 * malloc_info, mallopt) with hakmem's figures; the field meanings and the
 * mallopt table are in include/hakmem.h.  The figures come from a snapshot
 * (no lock a running malloc waits on); malloc_info formats into a buffer
 * and hands it to stdio only then, with no allocator lock held. */
#include "hakmem.h"
#include "hakmem_stats.h"
#include "hakmem_large.h"
#include "hakmem_release.h"
#include <errno.h>
#include <limits.h>

typedef struct {
    uint64_t free_tiny, free_tiny_bytes, free_mid, free_mid_bytes, live_small;
} small_t;

static void small_figures(const hak_snapshot_t *s, small_t *f)
{
    f->free_tiny = f->free_tiny_bytes = f->free_mid = f->free_mid_bytes = 0;
    for (int c = 0; c < HAK_NCLASS; c++) {
        uint64_t n = s->free_blocks[c];
        if (hak_is_tiny_class(c)) {
            f->free_tiny += n;
            f->free_tiny_bytes += n * hak_class_size[c];
        } else {
            f->free_mid += n;
            f->free_mid_bytes += n * hak_class_size[c];
        }
    }
    f->live_small = s->bytes_live - s->large_live_bytes;
}

struct mallinfo2 hak_mallinfo2(void)
{
    hak_snapshot_t s;
    small_t f;
    struct mallinfo2 m;
    hak_snapshot_take(&s);
    small_figures(&s, &f);
    m.arena = s.span_bytes;
    m.ordblks = f.free_tiny + f.free_mid;
    m.smblks = f.free_tiny;
    m.hblks = s.large_live;
    m.hblkhd = s.large_live_bytes;
    m.usmblks = 0;
    m.fsmblks = f.free_tiny_bytes;
    m.uordblks = f.live_small;
    m.fordblks = s.span_bytes > f.live_small ? s.span_bytes - f.live_small : 0;
    m.keepcost = s.large_cached_bytes;
    return m;
}

static int sat(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

struct mallinfo hak_mallinfo(void)
{
    struct mallinfo2 m = hak_mallinfo2();
    struct mallinfo r;
    r.arena = sat(m.arena);
    r.ordblks = sat(m.ordblks);
    r.smblks = sat(m.smblks);
    r.hblks = sat(m.hblks);
    r.hblkhd = sat(m.hblkhd);
    r.usmblks = sat(m.usmblks);
    r.fsmblks = sat(m.fsmblks);
    r.uordblks = sat(m.uordblks);
    r.fordblks = sat(m.fordblks);
    r.keepcost = sat(m.keepcost);
    return r;
}

int hak_malloc_trim(size_t pad)
{
    (void)pad;   /* hakmem keeps no top of heap to pad */
    hak_release_own_caches();
    return hak_release_free_memory() != 0;
}

void hak_malloc_stats(void) { hak_print_stats(); }

/* <tag type="type" count="n" size="bytes"/> (count left out when < 0) */
static void put_xml(hak_sink_t *o, const char *tag, const char *type, int64_t count, uint64_t size)
{
    hak_buf_t b;
    hak_buf_reset(&b);
    hak_put_ch(&b, '<');
    hak_put_str(&b, tag);
    hak_put_str(&b, " type=\"");
    hak_put_str(&b, type);
    if (count >= 0) {
        hak_put_str(&b, "\" count=\"");
        hak_put_u64(&b, (uint64_t)count);
    }
    hak_put_str(&b, "\" size=\"");
    hak_put_u64(&b, size);
    hak_put_str(&b, "\"/>\n");
    hak_sink_put(o, &b);
}

static void put_line(hak_sink_t *o, const char *s)
{
    hak_buf_t b;
    hak_buf_reset(&b);
    hak_put_str(&b, s);
    hak_sink_put(o, &b);
}

/* the figures glibc gives per heap and again for the whole process */
static void put_totals(hak_sink_t *o, const hak_snapshot_t *s, const small_t *f, int outer)
{
    put_xml(o, "total", "fast", (int64_t)f->free_tiny, f->free_tiny_bytes);
    put_xml(o, "total", "rest", (int64_t)f->free_mid, f->free_mid_bytes);
    if (outer)
        put_xml(o, "total", "mmap", (int64_t)s->large_live, s->large_live_bytes);
    put_xml(o, "system", "current", -1, s->span_bytes);
    put_xml(o, "system", "max", -1, s->span_bytes_peak);
    put_xml(o, "aspace", "total", -1, s->segment_bytes);
    put_xml(o, "aspace", "mprotect", -1, s->segment_bytes);
}

int hak_malloc_info(int options, FILE *fp)
{
    char out[16384];
    hak_sink_t o = { -1, out, sizeof out, 0 };
    hak_snapshot_t s;
    small_t f;
    hak_buf_t b;
    if (options != 0) {
        errno = EINVAL;
        return EINVAL;   /* glibc 2.36 returns it */
    }
    hak_snapshot_take(&s);
    small_figures(&s, &f);
    put_line(&o, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
    for (int c = 0; c < HAK_NCLASS; c++) {
        if (!s.free_blocks[c])
            continue;
        hak_buf_reset(&b);
        hak_put_str(&b, "  <size from=\"");
        hak_put_u64(&b, hak_class_size[c]);
        hak_put_str(&b, "\" to=\"");
        hak_put_u64(&b, hak_class_size[c]);
        hak_put_str(&b, "\" total=\"");
        hak_put_u64(&b, s.free_blocks[c] * hak_class_size[c]);
        hak_put_str(&b, "\" count=\"");
        hak_put_u64(&b, s.free_blocks[c]);
        hak_put_str(&b, "\"/>\n");
        hak_sink_put(&o, &b);
    }
    put_line(&o, "</sizes>\n");
    put_totals(&o, &s, &f, 0);
    put_line(&o, "</heap>\n");
    put_totals(&o, &s, &f, 1);
    put_line(&o, "</malloc>\n");
    /* 52 classes of at most ~90 bytes and 16 short lines: out is big enough */
    fwrite(out, 1, o.len < sizeof out ? o.len : sizeof out, fp);
    return 0;
}

int hak_mallopt(int param, int value)
{
    if (value < 0)
        return 0;
    switch (param) {
    case M_TRIM_THRESHOLD:
        hak_large_set_cache_bytes((uint64_t)value);
        return 1;
    case M_MMAP_THRESHOLD:
        hak_large_set_unmap_from(value <= (int)HAK_MID_MAX ? 0 : (uint64_t)value);
        return 1;
    default:
        return 0;
    }
}
