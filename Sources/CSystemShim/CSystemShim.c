// CSystemShim: socket, accept4, ppoll, POLLRDHUP and eventfd, which need _GNU_SOURCE /
// <sys/eventfd.h>; the static mutex and id counter that must not be Swift globals; and what
// fork() leaves to a child: the record of mmnet's descriptors, closed in the child, and the
// fork generation.
//
// Thread: any.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "CSystemShim.h"

const short mmnet_pollrdhup = POLLRDHUP;

/* Descriptors below this are recorded (one bit each: 128 KiB of zero pages until used). A
 * process allowed more descriptors than this keeps those above it open in a child. */
#define TRACKED_FDS (1 << 20)
static uint64_t owned_fds[TRACKED_FDS / 64];
/* The event descriptors given to hosts (GetEventDescriptor), a subset of owned_fds: a child
 * gets a fresh eventfd under the same number instead of a closed one. */
static uint64_t host_fds[TRACKED_FDS / 64];
/* Held for reading across a descriptor's making and recording, or its forgetting and closing;
 * for writing by a fork: so that no descriptor is between the two when the child is made. */
static pthread_rwlock_t fd_record = PTHREAD_RWLOCK_INITIALIZER;

/* Sets or clears `fd`'s bit in `set`. */
static void mark(uint64_t *set, int fd, int on) {
    if (fd < 0 || fd >= TRACKED_FDS) return;
    if (on) __atomic_or_fetch(&set[fd / 64], 1ULL << (fd % 64), __ATOMIC_RELAXED);
    else __atomic_and_fetch(&set[fd / 64], ~(1ULL << (fd % 64)), __ATOMIC_RELAXED);
}

int mmnet_socket_nonblocking(int family) {
    pthread_rwlock_rdlock(&fd_record);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mark(owned_fds, fd, 1);
    pthread_rwlock_unlock(&fd_record);
    return fd;
}

int mmnet_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    pthread_rwlock_rdlock(&fd_record);
    int accepted = accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    mark(owned_fds, accepted, 1);
    pthread_rwlock_unlock(&fd_record);
    return accepted;
}

int mmnet_close(int fd) {
    pthread_rwlock_rdlock(&fd_record);
    mark(owned_fds, fd, 0);
    mark(host_fds, fd, 0);
    int result = close(fd);
    pthread_rwlock_unlock(&fd_record);
    return result;
}

int mmnet_ppoll(struct pollfd *fds, nfds_t count, int64_t timeout_ns) {
    if (timeout_ns < 0) return ppoll(fds, count, NULL, NULL);
    struct timespec limit = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    return ppoll(fds, count, &limit, NULL);
}

int mmnet_eventfd(int for_host) {
    pthread_rwlock_rdlock(&fd_record);
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    mark(owned_fds, fd, 1);
    if (for_host) mark(host_fds, fd, 1);
    pthread_rwlock_unlock(&fd_record);
    return fd;
}

static pthread_mutex_t global_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_id = 0;

void mmnet_global_lock(void) { pthread_mutex_lock(&global_mutex); }

void mmnet_global_unlock(void) { pthread_mutex_unlock(&global_mutex); }

int64_t mmnet_next_id(void) { return __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED); }

static uint64_t fork_generation = 0;
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
static void (*park_hook)(void);
static void (*unpark_hook)(void);

/* Before a fork, in the forking thread: the I/O thread stops at a point where it holds no
 * lock (the Swift runtime's included, which the child's own I/O thread will need), then no
 * descriptor may be half made or half closed. */
static void before_fork(void) {
    void (*park)(void) = __atomic_load_n(&park_hook, __ATOMIC_ACQUIRE);
    if (park != NULL) park();
    pthread_rwlock_wrlock(&fd_record);
}

/* After a fork, in the parent: everything goes on. */
static void parent_after_fork(void) {
    pthread_rwlock_unlock(&fd_record);
    void (*unpark)(void) = __atomic_load_n(&unpark_hook, __ATOMIC_ACQUIRE);
    if (unpark != NULL) unpark();
}

/* In the child of a fork (it has one thread, the one that forked): the sockets it inherited
 * are the parent's connections, which the child must neither write to nor keep open (the
 * parent's peers would never see them close), so they are closed; an event descriptor given
 * to the host becomes a fresh eventfd under the same number (its old one would be woken by
 * the parent, and a closed number could be reused by a socket the host then polls or closes);
 * the locks may have been held by threads the child does not have, so they are made anew;
 * and the generation tells every object of the parent's that it is not the child's. */
static void child_after_fork(void) {
    for (int word = 0; word < TRACKED_FDS / 64; word++) {
        uint64_t bits = owned_fds[word];
        if (bits == 0) continue;
        uint64_t hosts = host_fds[word];
        owned_fds[word] = hosts;
        for (int bit = 0; bit < 64; bit++) {
            int fd = word * 64 + bit;
            if (!(bits & (1ULL << bit))) continue;
            if (hosts & (1ULL << bit)) {
                int fresh = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
                if (fresh >= 0) { dup3(fresh, fd, O_CLOEXEC); close(fresh); }
            } else {
                close(fd);
            }
        }
    }
    pthread_rwlock_init(&fd_record, NULL);
    pthread_mutex_init(&global_mutex, NULL);
    fork_generation++;
}

static void register_fork_handlers(void) {
    /* pthread_atfork records this library's handle: unloading the library removes them. */
    pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

void mmnet_watch_forks(void (*park)(void), void (*unpark)(void)) {
    __atomic_store_n(&park_hook, park, __ATOMIC_RELEASE);
    __atomic_store_n(&unpark_hook, unpark, __ATOMIC_RELEASE);
    pthread_once(&fork_watch, register_fork_handlers);
}

uint64_t mmnet_fork_generation(void) { return __atomic_load_n(&fork_generation, __ATOMIC_RELAXED); }
