// CSystemShim: the Linux calls Swift's Glibc module does not import (they need _GNU_SOURCE or
// headers it leaves out), under an `mmnet_` prefix.
//
// Thread: any.
#ifndef MMNET_CSYSTEMSHIM_H
#define MMNET_CSYSTEMSHIM_H

#include <sys/socket.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// eventfd(2) with EFD_NONBLOCK | EFD_CLOEXEC, counter 0.
int mmnet_eventfd(void);

#endif
