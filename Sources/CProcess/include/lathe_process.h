#ifndef LATHE_PROCESS_H
#define LATHE_PROCESS_H

#include <sys/types.h>

/* Child processes for Lathe: the part that must run between clone and exec (where only
 * async-signal-safe calls are allowed, so it cannot be Swift), and wait-status decoding (macros
 * Swift cannot call). Swift's ChildProcess (LathePlugins) is the only caller. */

/* Starts `path` with `argv` and `envp` (NULL-terminated, built before the call: the child
 * allocates nothing) as a child that
 *   - leads its own process group (pgid = its pid), so the whole group can be killed;
 *   - gets SIGKILL when the thread that called this exits (PR_SET_PDEATHSIG), set before exec,
 *     and exits at once if the parent died before that was set;
 *   - reads /dev/null, writes stdout to `stdout_fd` and stderr to `stderr_fd` (both may be the
 *     same descriptor); no other descriptor of the parent survives exec.
 * The calling thread must outlive the child (the parent-death signal follows the thread).
 * Returns the child's pid, or -errno if it could not be started (`*stage` then names the step
 * that failed: "clone", "setpgid", "prctl", "open /dev/null", "dup2" or "exec"). */
pid_t lathe_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                  const char **stage);

/* Whether child `pid` has ended, WITHOUT reaping it: its zombie keeps the pid and the process
 * group id from being reused, so the rest of the group can still be killed safely.
 * Returns 1 if it has ended, 0 if it is running, -errno on error. */
int lathe_child_ended(pid_t pid);

/* Reaps child `pid` (blocking; call it once lathe_child_ended said 1). On return 0, *code is
 * its exit status and *signal 0, or *signal is the signal that ended it and *code -1.
 * Returns -errno on error. */
int lathe_child_reap(pid_t pid, int *code, int *signal);

#endif
