#define _GNU_SOURCE
#include "lathe_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

static const char *const stages[] = {"fork", "setpgid", "prctl", "open /dev/null", "dup2", "exec"};
enum { STAGE_FORK, STAGE_SETPGID, STAGE_PRCTL, STAGE_DEVNULL, STAGE_DUP2, STAGE_EXEC };

/* Child side, after fork: async-signal-safe calls only. Never returns. */
static void child(const char *path, char *const argv[], char *const envp[], int out, int err, int report,
                  pid_t parent) {
    struct spawn_failure failure = {0, STAGE_EXEC};
    /* Signals the parent ignores or blocks stay so across exec: give the program defaults. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    }
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
}

pid_t lathe_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                  const char **stage) {
    *stage = stages[STAGE_FORK];
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return -error;
    }
    if (pid == 0) child(path, argv, envp, stdout_fd, stderr_fd, report[1], parent);
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
