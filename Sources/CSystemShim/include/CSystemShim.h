// CSystemShim: the Linux calls Swift's Glibc module does not import (they need _GNU_SOURCE or
// headers it leaves out), under an `mmnet_` prefix.
//
// Thread: any.
#ifndef MMNET_CSYSTEMSHIM_H
#define MMNET_CSYSTEMSHIM_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// ppoll(2) without a signal mask: waits up to `timeout_ns` nanoseconds, or without a limit
/// when it is negative.
int mmnet_ppoll(struct pollfd *fds, nfds_t count, int64_t timeout_ns);

/// eventfd(2) with EFD_NONBLOCK | EFD_CLOEXEC, counter 0.
int mmnet_eventfd(void);

/// Takes the process-wide mutex that guards starting and stopping the I/O thread. A static C
/// mutex, not a Swift object: a Swift global would be allocated once per load and lost at unload.
void mmnet_global_lock(void);

/// Releases the mutex of `mmnet_global_lock`.
void mmnet_global_unlock(void);

/// A new process-unique object id (1, 2, 3, ...), from any thread.
int64_t mmnet_next_id(void);

#endif
