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

#endif
