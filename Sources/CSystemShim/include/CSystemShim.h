// CSystemShim: the Linux calls Swift's Glibc module does not import (they need _GNU_SOURCE or
// headers it leaves out), under an `mmnet_` prefix.
//
// Thread: any.
#ifndef MMNET_CSYSTEMSHIM_H
#define MMNET_CSYSTEMSHIM_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

/// socket(2) for a TCP stream with SOCK_NONBLOCK | SOCK_CLOEXEC, recorded as mmnet's
/// (`mmnet_watch_forks`).
int mmnet_socket_nonblocking(int family);

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC, recorded as mmnet's.
int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// close(2) of a descriptor mmnet made, forgotten first.
int mmnet_close(int fd);

/// ppoll(2) without a signal mask: waits up to `timeout_ns` nanoseconds, or without a limit
/// when it is negative.
int mmnet_ppoll(struct pollfd *fds, nfds_t count, int64_t timeout_ns);

/// POLLRDHUP, which needs _GNU_SOURCE: the peer has shut down its writing (a FIN), whatever
/// data before it is still unread.
extern const short mmnet_pollrdhup;

/// eventfd(2) with EFD_NONBLOCK | EFD_CLOEXEC, counter 0, recorded as mmnet's; `for_host`
/// non-zero: a descriptor a host may poll (GetEventDescriptor), which a child of fork() gets
/// as a fresh eventfd under the same number.
int mmnet_eventfd(int for_host);

/// Takes the process-wide mutex that guards starting and stopping the I/O thread. A static C
/// mutex, not a Swift object: a Swift global would be allocated once per load and lost at unload.
void mmnet_global_lock(void);

/// Releases the mutex of `mmnet_global_lock`.
void mmnet_global_unlock(void);

/// A new process-unique object id (1, 2, 3, ...), from any thread.
int64_t mmnet_next_id(void);

/// Has every later fork() first call `park` (which stops the I/O thread where it holds no
/// lock) and wait for any descriptor being made or closed; the parent then calls `unpark`;
/// the child closes the descriptors mmnet made (they are the parent's connections), makes the
/// locks anew and counts one more generation. Idempotent (the hooks are replaced).
void mmnet_watch_forks(void (*park)(void), void (*unpark)(void));

/// How many fork()s lie between the process that first watched forks and this one: 0 in it,
/// 1 in its children, and so on. Objects made in an earlier generation are the parent's.
uint64_t mmnet_fork_generation(void);

#endif
