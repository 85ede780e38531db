#ifndef STOREFLEET_PROCESS_SHIMS_H
#define STOREFLEET_PROCESS_SHIMS_H

/// pipe2(fds, O_CLOEXEC): glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module
/// does not import, and creating the pipe close-on-exec in one call is the point (see ChildProcess).
int storefleet_pipe_cloexec(int fds[2]);

#endif
