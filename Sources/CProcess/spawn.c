#define _GNU_SOURCE
#include "lathe_process.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What the child sends back through the close-on-exec pipe when a step before exec fails. */
struct spawn_failure {
    int error;
    int stage;
};

static const char *const stages[] = {"clone", "setpgid", "prctl", "open /dev/null", "dup2", "exec"};
enum { STAGE_CLONE, STAGE_SETPGID, STAGE_PRCTL, STAGE_DEVNULL, STAGE_DUP2, STAGE_EXEC };

/* What the child needs; it lives in the parent's frame, which is suspended until exec. */
struct spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int out, err, report;
    pid_t parent;
};

/* Child side, between clone and exec, sharing the parent's memory (CLONE_VM | CLONE_VFORK, as
 * posix_spawn does): raw system calls only, nothing that allocates or takes a lock.
 *
 * Why not fork(): fork runs the pthread_atfork handlers in the parent, and OpenBLAS's handler
 * shuts its thread pool down; when another thread of the parent is inside a BLAS call at that
 * moment, that call waits forever for workers that are gone (seen as a hung test run). clone
 * runs no handlers and copies nothing. Never returns. */
static int child(void *argument) {
    const struct spawn_request *r = argument;
    const char *path = r->path;
    char *const *argv = r->argv;
    char *const *envp = r->envp;
    int out = r->out, err = r->err, report = r->report;
    pid_t parent = r->parent;
    struct spawn_failure failure = {0, STAGE_EXEC};
    /* The parent blocked every signal around clone, so no handler of its can run here on the
     * shared memory. Reset the dispositions first (this child has its own copy of them: no
     * CLONE_SIGHAND), then unblock: signals the parent ignores or blocks must not stay so
     * across exec, the program gets defaults. */
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setpgid(0, 0) != 0) {
        failure = (struct spawn_failure){errno, STAGE_SETPGID};
        goto fail;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        failure = (struct spawn_failure){errno, STAGE_PRCTL};
        goto fail;
    }
    /* The parent may have died between fork and prctl: then no signal will ever come. */
    if (getppid() != parent) _exit(127);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0) {
        failure = (struct spawn_failure){errno, STAGE_DEVNULL};
        goto fail;
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
        failure = (struct spawn_failure){errno, STAGE_DUP2};
        goto fail;
    }
    /* Descriptors the parent opened without O_CLOEXEC (another pipe, a socket) must not reach
     * the program, or its grandchildren could hold them open. Older kernels: best effort. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(path, argv, envp);
    failure = (struct spawn_failure){errno, STAGE_EXEC};
fail:
    while (write(report, &failure, sizeof failure) < 0 && errno == EINTR) {}
    _exit(127);
    return 127;
}

pid_t lathe_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                  const char **stage) {
    *stage = stages[STAGE_CLONE];
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    const size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return -error;
    }
    struct spawn_request request = {path, argv, envp, stdout_fd, stderr_fd, report[1], getpid()};
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    /* Returns once the child has exec'd or exited (CLONE_VFORK). */
    pid_t pid = clone(child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, stack_size);
    if (pid < 0) {
        close(report[0]);
        close(report[1]);
        return -clone_error;
    }
    close(report[1]);
    /* Also here, so that the group exists before this returns and a kill of -pid cannot miss it
     * (EACCES once the child has exec'd: it has done it itself by then). */
    setpgid(pid, pid);
    struct spawn_failure failure;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *stage = stages[failure.stage];
        return -failure.error;
    }
    return pid; /* EOF: exec succeeded and closed the pipe */
}

int lathe_child_ended(pid_t pid) {
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -errno;
    return info.si_pid == pid ? 1 : 0;
}

int lathe_child_reap(pid_t pid, int *code, int *signal) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    *signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return 0;
}
