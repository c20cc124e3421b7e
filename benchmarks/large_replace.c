/* Large buffer replacement: `buffers` live buffers of min_mb..max_mb MiB
 * (uniform), one replaced at random `replaces` times; every new buffer is
 * written whole (memset) and its first and last bytes of the old one checked
 * before it is freed.  What it shows: whether a freed big mapping is reused
 * with its pages resident (no page faults) or faulted in again.
 *
 * Afterwards every buffer is freed and the program sleeps idle_ms without an
 * allocator call: rss_after_free_kb / rss_after_idle_kb show what the
 * allocator still holds then (a cache of freed mappings, until its decay and
 * a pass that acts on it). */
#include "bench_common.h"

int main(int argc, char **argv)
{
    bench_init(argc, argv);
    bench_begin("large_replace");
    long nbuf = bench_param("buffers", 20, 20, 20);
    long nrep = bench_param("replaces", 60, 300, 2000);
    long lo = bench_param("min_mb", 5, 5, 5), hi = bench_param("max_mb", 25, 25, 25);
    long idle_ms = bench_param("idle_ms", 1500, 1500, 1500);
    long seed = bench_param("seed", 42, 42, 42);
    rng_t r;
    rng_seed(&r, (uint64_t)seed);
    unsigned char **b = calloc((size_t)nbuf, sizeof *b);
    size_t *len = calloc((size_t)nbuf, sizeof *len);
    unsigned char *tag = calloc((size_t)nbuf, 1);
    if (!b || !len || !tag) die("calloc");
    uint64_t errors = 0, bytes = 0;
    bench_clock_start();
    for (long i = 0; i < nbuf + nrep; i++) {
        long k = i < nbuf ? i : (long)rng_below(&r, (uint64_t)nbuf);
        if (b[k]) {
            if (b[k][0] != (unsigned char)k || b[k][len[k] - 1] != tag[k]) errors++;
            free(b[k]);
        }
        len[k] = rng_range(&r, (size_t)lo << 20, (size_t)hi << 20);
        b[k] = xmalloc(len[k]);
        memset(b[k], (int)k, len[k]);
        b[k][len[k] - 1] = tag[k] = (unsigned char)(k + i + 1);
        bytes += len[k];
    }
    bench_clock_stop();
    for (long k = 0; k < nbuf; k++) free(b[k]);
    long after_free = proc_status_kb("VmRSS");
    struct timespec ts = { idle_ms / 1000, (idle_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    printf("replaces=%ld\n", nrep);
    printf("bytes_written=%" PRIu64 "\n", bytes);
    printf("verify_errors=%" PRIu64 "\n", errors);
    bench_report(bytes >> 10);   /* ops: KiB of buffers allocated and written */
    printf("rss_after_free_kb=%ld\n", after_free);
    printf("rss_after_idle_kb=%ld\n", proc_status_kb("VmRSS"));
    bench_end();
    return errors ? 3 : 0;
}
