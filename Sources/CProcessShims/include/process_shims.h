#ifndef STOREFLEET_PROCESS_SHIMS_H
#define STOREFLEET_PROCESS_SHIMS_H

#include <sys/types.h>

/// pipe2(fds, O_CLOEXEC): glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module
/// does not import, and creating the pipe close-on-exec in one call is the point (see ChildProcess).
int storefleet_pipe_cloexec(int fds[2]);

/// Starts `path` (an absolute or relative file path, no PATH search) as the leader of a new process
/// group, with default dispositions for the signals a server changes and an empty signal mask, its
/// standard input, output and error on the given descriptors and no other descriptor of this process,
/// and, with `death_signal` > 0, that signal sent to it by the kernel when the calling thread ends
/// (PR_SET_PDEATHSIG): a worker killed outright takes its helm with it. posix_spawn cannot ask for a
/// parent-death signal, hence fork and exec here. With `hard_limit_seconds` > 0 a watchdog process
/// (its PID in `*watchdog`, else 0) SIGKILLs the program's group after that long: the caller's own
/// timeout cannot fire while the caller is frozen (SIGSTOP, a paused VM), the watchdog's can. The
/// caller kills and reaps the watchdog once the program has ended. Returns the program's PID, or -1
/// with errno set (also when exec itself failed).
pid_t storefleet_spawn_bound(const char *path, char *const argv[], char *const envp[],
                             int stdin_fd, int stdout_fd, int stderr_fd, int death_signal,
                             double hard_limit_seconds, pid_t *watchdog);

#endif
