// CSystemShim: accept4 and eventfd, which need _GNU_SOURCE / <sys/eventfd.h>.
//
// Thread: any.
#define _GNU_SOURCE
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "CSystemShim.h"

int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int mmnet_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}
