#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "process_shims.h"

int storefleet_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

/// Closes every descriptor above 2 but `keep`, in the child after fork: close_range(2) where the kernel
/// has it (Linux 5.9), else one close per possible descriptor (async-signal-safe either way).
static void close_above_2_except(int keep) {
    if (keep < 0) keep = 2;  // nothing to keep: close everything above 2
    if (keep > 3) {
        if (syscall(SYS_close_range, 3u, (unsigned)(keep - 1), 0u) != 0) {
            for (int fd = 3; fd < keep; fd++) close(fd);
        }
    }
    if (syscall(SYS_close_range, (unsigned)(keep + 1), ~0u, 0u) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = keep + 1; fd < (max > 0 ? max : 65536); fd++) close((int)fd);
    }
}

/// The watchdog's life after fork: nothing of the parent's kept open, then sleep and kill.
static void watch(pid_t program, pid_t parent, double seconds) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    close_above_2_except(-1);
    struct timespec left;
    left.tv_sec = (time_t)seconds;
    left.tv_nsec = (long)((seconds - (double)left.tv_sec) * 1e9);
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
    kill(-program, SIGKILL);
    kill(program, SIGKILL);
    _exit(0);
}

pid_t storefleet_spawn_bound(const char *path, char *const argv[], char *const envp[],
                             int stdin_fd, int stdout_fd, int stderr_fd, int death_signal,
                             double hard_limit_seconds, pid_t *watchdog) {
    if (watchdog) *watchdog = 0;
    // Exec failures come back through a close-on-exec pipe: nothing read means exec succeeded.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // The child: only async-signal-safe calls until exec, since the parent has other threads.
        setpgid(0, 0);
        if (death_signal > 0) {
            prctl(PR_SET_PDEATHSIG, death_signal);
            // The parent may have died before prctl took effect; then nobody is left to stop us.
            if (getppid() != parent) _exit(127);
        }
        struct sigaction dfl;
        dfl.sa_handler = SIG_DFL;
        dfl.sa_flags = 0;
        sigemptyset(&dfl.sa_mask);
        int defaults[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD};
        for (unsigned i = 0; i < sizeof defaults / sizeof defaults[0]; i++) sigaction(defaults[i], &dfl, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, 0);
        // dup2 clears close-on-exec on 0, 1 and 2. Not every descriptor of this process is close-on-exec
        // (hiredis and libcurl make their sockets without it), and the program must inherit none of them:
        // helm with a worker's authenticated Redis connection, or a BLMOVE connection kept open on the
        // server's side after the worker closed it. So everything above 2 is closed, but the report
        // pipe, which closes on exec by itself.
        if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
            int code = errno;
            (void)!write(report[1], &code, sizeof code);
            _exit(127);
        }
        close_above_2_except(report[1]);
        execve(path, argv, envp);
        int code = errno;
        (void)!write(report[1], &code, sizeof code);
        _exit(127);
    }
    close(report[1]);
    int code = 0;
    ssize_t got;
    do {
        got = read(report[0], &code, sizeof code);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof code) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        errno = code;
        return -1;
    }
    if (hard_limit_seconds > 0 && watchdog) {
        pid_t guard = fork();
        if (guard == 0) watch(pid, parent, hard_limit_seconds);
        // Without a watchdog (fork failed) the caller's own timeout still applies.
        if (guard > 0) *watchdog = guard;
    }
    return pid;
}
