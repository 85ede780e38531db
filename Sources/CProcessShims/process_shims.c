#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "process_shims.h"

int storefleet_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

pid_t storefleet_spawn_bound(const char *path, char *const argv[], char *const envp[],
                             int stdin_fd, int stdout_fd, int stderr_fd, int death_signal) {
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
        // dup2 clears close-on-exec on 0, 1 and 2; every other descriptor this process made is
        // close-on-exec (ChildProcess creates its pipes with pipe2), so the program inherits nothing else.
        if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
            int code = errno;
            (void)!write(report[1], &code, sizeof code);
            _exit(127);
        }
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
    return pid;
}
