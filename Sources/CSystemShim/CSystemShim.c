// CSystemShim: accept4, ppoll and eventfd, which need _GNU_SOURCE / <sys/eventfd.h>; the static
// mutex and id counter that must not be Swift globals.
//
// Thread: any.
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "CSystemShim.h"

int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int mmnet_ppoll(struct pollfd *fds, nfds_t count, int64_t timeout_ns) {
    if (timeout_ns < 0) return ppoll(fds, count, NULL, NULL);
    struct timespec limit = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    return ppoll(fds, count, &limit, NULL);
}

int mmnet_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static pthread_mutex_t global_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_id = 0;

void mmnet_global_lock(void) { pthread_mutex_lock(&global_mutex); }

void mmnet_global_unlock(void) { pthread_mutex_unlock(&global_mutex); }

int64_t mmnet_next_id(void) { return __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED); }
