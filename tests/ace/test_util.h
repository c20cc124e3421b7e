/* Helpers shared by the ACE tests that run threads. */
#ifndef ACE_TEST_UTIL_H
#define ACE_TEST_UTIL_H

#include <dirent.h>
#include <time.h>

/* tasks (threads) of this process */
static inline int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static inline void msleep(int ms) { struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L }; nanosleep(&ts, NULL); }

/* The task count once it is `want`, or after 1 s: a joined thread's task can
 * still be listed for a moment (pthread_join returns when the kernel clears
 * its tid, before the task is reaped). */
static inline int settled_threads(int want)
{
    int n = count_threads();
    for (int i = 0; i < 100 && n != want; i++) { msleep(10); n = count_threads(); }
    return n;
}

#endif
