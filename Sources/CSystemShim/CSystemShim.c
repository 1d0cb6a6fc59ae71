// CSystemShim: socket, accept4, ppoll and eventfd, which need _GNU_SOURCE / <sys/eventfd.h>;
// the static mutex and id counter that must not be Swift globals; and what fork() leaves to a
// child: the record of mmnet's descriptors, closed in the child, and the fork generation.
//
// Thread: any.
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "CSystemShim.h"

/* Descriptors below this are recorded (one bit each: 128 KiB of zero pages until used). */
#define TRACKED_FDS (1 << 20)
static uint64_t owned_fds[TRACKED_FDS / 64];

/* Records `fd` as mmnet's (after it is made). */
static int owned(int fd) {
    if (fd >= 0 && fd < TRACKED_FDS) __atomic_or_fetch(&owned_fds[fd / 64], 1ULL << (fd % 64), __ATOMIC_RELAXED);
    return fd;
}

int mmnet_socket_nonblocking(int family) {
    return owned(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return owned(accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

int mmnet_close(int fd) {
    /* Forgotten before it is closed: once closed, another thread may get the number again. */
    if (fd >= 0 && fd < TRACKED_FDS) __atomic_and_fetch(&owned_fds[fd / 64], ~(1ULL << (fd % 64)), __ATOMIC_RELAXED);
    return close(fd);
}

int mmnet_ppoll(struct pollfd *fds, nfds_t count, int64_t timeout_ns) {
    if (timeout_ns < 0) return ppoll(fds, count, NULL, NULL);
    struct timespec limit = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    return ppoll(fds, count, &limit, NULL);
}

int mmnet_eventfd(void) {
    return owned(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

static pthread_mutex_t global_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_id = 0;

void mmnet_global_lock(void) { pthread_mutex_lock(&global_mutex); }

void mmnet_global_unlock(void) { pthread_mutex_unlock(&global_mutex); }

int64_t mmnet_next_id(void) { return __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED); }

static uint64_t fork_generation = 0;
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;

/* In the child of a fork (it has one thread, the one that forked): the sockets and eventfds it
 * inherited are the parent's connections, which the child must neither write to nor keep open
 * (the parent's peers would never see them close), so they are closed; the global mutex may
 * have been held by a thread the child does not have, so it is made anew; and the generation
 * tells every object of the parent's that it is not the child's. */
static void child_after_fork(void) {
    for (int word = 0; word < TRACKED_FDS / 64; word++) {
        uint64_t bits = owned_fds[word];
        if (bits == 0) continue;
        owned_fds[word] = 0;
        for (int bit = 0; bit < 64; bit++) {
            if (bits & (1ULL << bit)) close(word * 64 + bit);
        }
    }
    pthread_mutex_init(&global_mutex, NULL);
    fork_generation++;
}

static void register_fork_handler(void) {
    /* pthread_atfork records this library's handle: unloading the library removes it. */
    pthread_atfork(NULL, NULL, child_after_fork);
}

void mmnet_watch_forks(void) { pthread_once(&fork_watch, register_fork_handler); }

uint64_t mmnet_fork_generation(void) { return __atomic_load_n(&fork_generation, __ATOMIC_RELAXED); }
