/* A bad case in a child process: the child's stderr, and the exact line it
 * expects there (written with t_expect before its bad call), come back to
 * the parent through two pipes.  C and C++. */
#ifndef HAKTEST_CHILD_H
#define HAKTEST_CHILD_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct t_child {
    int status;          /* waitpid's */
    char out[4096];      /* the child's stderr */
    char want[512];      /* what it expected there; empty when it wrote nothing */
} t_child_t;

static int t_expect_fd = -1;   /* the child's end of the expected-line pipe */

/* The line the child's bad call must print (written before the call). */
static void t_expect(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void t_expect(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n <= 0 || n >= (int)sizeof line || write(t_expect_fd, line, (size_t)n) != n) _exit(94);
    close(t_expect_fd);
}

static size_t t_read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(fd);
    return len;
}

/* Runs fn(name) in a child (default SIGABRT and SIGSEGV, a 10 s alarm); a
 * child that returns from fn exits 93. */
static void t_run_child(void (*fn)(const char *), const char *name, t_child_t *res)
{
    int fd[2], ex[2];
    if (pipe(fd) || pipe(ex)) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fd[0]);
        close(ex[0]);
        t_expect_fd = ex[1];
        dup2(fd[1], 2);
        close(fd[1]);
        signal(SIGABRT, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        alarm(10);
        fn(name);
        _exit(93);
    }
    close(fd[1]);
    close(ex[1]);
    t_read_all(fd[0], res->out, sizeof res->out);
    t_read_all(ex[0], res->want, sizeof res->want);
    waitpid(pid, &res->status, 0);
}

#endif
