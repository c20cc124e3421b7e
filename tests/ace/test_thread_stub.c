/* ACE's thread and lifecycle (hakmem_ace.c) against the stub core: start,
 * off, valve shutdown with static knobs restored, knob moves in the log and
 * trace, idle scavenge, fork.  Each scenario runs in a forked child with its
 * own environment and stderr captured to a file. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "hakmem_ace.h"
#include "hakmem_knobs.h"
#include "stub_core.h"
#include "test_util.h"

static int passed, failed;
static char tmpdir[256];


static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    static char buf[1 << 20];
    size_t n;
    if (!f) { buf[0] = 0; return buf; }
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Feed the stub snapshot as a busy process would: allocations in class 3,
 * remote frees with a standing backlog. */
static void feed(int ticks, int ms, uint64_t backlog3)
{
    for (int i = 0; i < ticks; i++) {
        for (int c = 0; c < 4; c++) {
            stub_snap.sum.allocs[c] += 100000;
            stub_snap.sum.frees[c] += 100000;
            stub_snap.sum.cls[c].remote_frees += 5000;
        }
        stub_snap.backlog[3] = backlog3;
        stub_snap.bytes_held = 8u << 20;
        stub_snap.bytes_live = 6u << 20;
        stub_snap.threads = 2;
        msleep(ms);
    }
}

typedef int (*scenario_fn)(void);

static void run(const char *name, scenario_fn fn, const char *env)
{
    char log[512];
    pid_t p;
    int st;
    snprintf(log, sizeof log, "%s/%s.log", tmpdir, name);
    p = fork();
    if (p == 0) {
        char e[1024], *tok, *save;
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(fd);
        snprintf(e, sizeof e, "%s", env);
        for (tok = strtok_r(e, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) putenv(strdup(tok));
        stub_knobs_defaults();
        _exit(fn());
    }
    waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) { passed++; printf("PASS %s\n", name); }
    else {
        failed++;
        printf("FAIL %s (status %d)\n--- stderr ---\n%s--------------\n", name, st, slurp(log));
    }
}

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "require failed: %s (line %d)\n", #c, __LINE__); return 1; } } while (0)

static int sc_off(void)
{
    hak_ace_maybe_start();
    hak_ace_maybe_start();
    msleep(50);
    REQUIRE(count_threads() == 1);
    return 0;
}

static int sc_on_starts_one_thread(void)
{
    hak_ace_maybe_start();
    hak_ace_maybe_start();
    msleep(50);
    hak_ace_maybe_start();
    REQUIRE(count_threads() == 2);
    return 0;
}

static int sc_valve_rss(void)
{
    hak_knobs.tls_cap[0] = 4;           /* something ACE-like to undo */
    hak_knobs.bundle_width = 128;
    hak_ace_maybe_start();
    feed(20, 10, 0);
    REQUIRE(stub_restore_calls == 1);
    REQUIRE(memcmp(&hak_knobs, &hak_knobs_static, sizeof hak_knobs) == 0);
    REQUIRE(count_threads() == 1);      /* ACE's thread is gone */
    REQUIRE(strstr(slurp(getenv("T_LOG")), "Safety valve: RSS above HAKMEM_ACE_MAX_RSS_MB") != NULL);
    hak_ace_maybe_start();              /* stays stopped */
    msleep(30);
    REQUIRE(count_threads() == 1);
    return 0;
}

static int sc_valve_cpu(void)
{
    hak_ace_maybe_start();
    feed(150, 10, 0);                   /* the CPU window is 1 s */
    REQUIRE(stub_restore_calls == 1);
    REQUIRE(strstr(slurp(getenv("T_LOG")), "Safety valve: ACE thread CPU above") != NULL);
    return 0;
}

static int sc_valve_p99(void)
{
    hak_ace_maybe_start();
    feed(20, 10, 0);
    REQUIRE(stub_restore_calls == 1);
    REQUIRE(strstr(slurp(getenv("T_LOG")), "Safety valve: p99 latency above") != NULL);
    return 0;
}

static int sc_backlog_moves(void)
{
    char *s;
    hak_ace_maybe_start();
    feed(30, 10, 400);
    REQUIRE(hak_knobs.drain_threshold[3] < 128);
    s = slurp(getenv("T_LOG"));
    REQUIRE(strstr(s, "[ACE] Drain threshold[3]: 128 → 64 (high backlog") != NULL);
    REQUIRE(strstr(s, "[ACE] Fast loop: reward=") != NULL);
    REQUIRE(strstr(s, "llc_miss=n/a llc_proxy=") != NULL || strstr(s, "llc_miss=0") != NULL);
    s = slurp(getenv("HAKMEM_ACE_TRACE"));
    REQUIRE(strncmp(s, "t_s,tick,", 9) == 0);
    REQUIRE(strstr(s, ",32,") != NULL || strstr(s, ",64,") != NULL);
    return 0;
}

static int sc_idle_scavenge(void)
{
    hak_ace_maybe_start();
    feed(5, 10, 0);
    stub_release_empty_pages = 700;
    stub_release_partial_pages = 300;
    stub_snap.bytes_held = 64u << 20;
    stub_snap.bytes_live = 1u << 20;
    msleep(150);                         /* idle: no new ops */
    REQUIRE(stub_release_empty_calls >= 1);
    REQUIRE(stub_release_cache_calls >= 1);   /* idle: the warm large cache goes too */
    REQUIRE(stub_last_partial_n == 0xffffffffu);
    REQUIRE(strstr(slurp(getenv("T_LOG")), "Scavenge (idle): released 1000 pages (4000 KiB: 700 empty + 300 partial, N=all pages/span") != NULL);
    return 0;
}

/* HAKMEM_ACE_IDLE_SCAVENGE_MS given: the idle scavenge waits that long,
 * whatever the price says. */
static int sc_idle_delay_fixed(void)
{
    hak_ace_maybe_start();
    feed(5, 10, 0);
    stub_release_empty_pages = 700;
    stub_snap.bytes_held = 64u << 20;
    stub_snap.bytes_live = 1u << 20;
    msleep(150);
    REQUIRE(stub_release_empty_calls == 0);
    return 0;
}

static int sc_fork(void)
{
    pid_t p;
    int st;
    hak_ace_maybe_start();
    msleep(30);
    REQUIRE(count_threads() == 2);
    p = fork();
    if (p == 0) {
        hak_ace_atfork_child();
        if (count_threads() != 1) _exit(3);
        hak_ace_maybe_start();           /* the core calls this from its next slow path */
        msleep(30);
        _exit(count_threads() == 2 ? 0 : 4);
    }
    waitpid(p, &st, 0);
    REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    REQUIRE(count_threads() == 2);
    return 0;
}

int main(void)
{
    char env[1024];
    snprintf(tmpdir, sizeof tmpdir, "%s", getenv("ACE_TEST_TMP") ? getenv("ACE_TEST_TMP") : "/tmp");
#define ENV(name, extra) (snprintf(env, sizeof env, "T_LOG=%s/%s.log %s", tmpdir, name, extra), env)
    run("stub_off_no_thread", sc_off, ENV("stub_off_no_thread", "HAKMEM_ACE_ENABLED=0"));
    run("stub_on_one_thread", sc_on_starts_one_thread, ENV("stub_on_one_thread", "HAKMEM_ACE_ENABLED=1"));
    run("stub_valve_rss", sc_valve_rss, ENV("stub_valve_rss", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_MAX_RSS_MB=0.5"));
    run("stub_valve_cpu", sc_valve_cpu, ENV("stub_valve_cpu", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_MAX_CPU_PERCENT=0.0001"));
    run("stub_valve_p99", sc_valve_p99, ENV("stub_valve_p99", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_MAX_P99_LAT_NS=1"));
    {
        char extra[512];
        snprintf(extra, sizeof extra, "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_LOG_LEVEL=2 HAKMEM_ACE_TRACE=%s/stub_trace.csv", tmpdir);
        run("stub_backlog_moves_log_trace", sc_backlog_moves, ENV("stub_backlog_moves_log_trace", extra));
    }
    /* a high price: the hold time, and so the idle delay, is its 10 ms floor */
    run("stub_idle_scavenge", sc_idle_scavenge, ENV("stub_idle_scavenge", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_LOG_LEVEL=1 HAKMEM_ACE_MEM_PRICE=1000"));
    run("stub_idle_delay_fixed", sc_idle_delay_fixed, ENV("stub_idle_delay_fixed", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10 HAKMEM_ACE_MEM_PRICE=1000 HAKMEM_ACE_IDLE_SCAVENGE_MS=100000"));
    run("stub_fork_restarts", sc_fork, ENV("stub_fork_restarts", "HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=10"));
    printf("thread_stub: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
