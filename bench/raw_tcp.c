/* bench/raw_tcp.c: the physical limit on loopback, in plain C: a 32-byte ping-pong and a
 * one-way stream of large writes, over one TCP connection. Contender of `make bench`.
 *
 * Thread: single-threaded; one process per side.
 *
 * Usage (every side prints key=value lines on stdout; listeners print "PORT n" first):
 *   raw_tcp pong                   listen on 127.0.0.1, echo 32-byte messages until EOF
 *   raw_tcp ping PORT COUNT        COUNT round trips; prints rtt_p50_us, rtt_p99_us
 *   raw_tcp sink                   listen, read until EOF; prints t_end (wall s), bytes
 *   raw_tcp stream PORT SIZE COUNT COUNT writes of SIZE bytes; prints t_start (wall s)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Wall-clock seconds, as the Lua contenders measure them (comparable across processes). */
static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Listens on 127.0.0.1 with an OS-chosen port, prints it, returns the accepted connection. */
static int listen_and_accept(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(s, 16) < 0) die("listen");
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("PORT %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) die("accept");
    close(s);
    nodelay(c);
    return c;
}

static int connect_to(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    nodelay(s);
    return s;
}

/* Reads exactly n bytes; returns 0 at EOF. */
static int read_full(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) return 0;
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

static void write_full(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "pong") == 0) {
        int c = listen_and_accept();
        char buf[32];
        while (read_full(c, buf, sizeof buf)) write_full(c, buf, sizeof buf);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "ping") == 0) {
        int c = connect_to(atoi(argv[2]));
        long count = atol(argv[3]);
        double *rtt = malloc(sizeof(double) * (size_t)count);
        char buf[32] = "ping-pong 32 bytes of payload..";
        for (long i = 0; i < count; i++) {
            double t0 = mono();
            write_full(c, buf, sizeof buf);
            if (!read_full(c, buf, sizeof buf)) die("short read");
            rtt[i] = mono() - t0;
        }
        /* The first tenth is warm-up and left out, as the Lua contenders do. */
        long skip = count / 10, kept = count - skip;
        qsort(rtt + skip, (size_t)kept, sizeof(double), cmp_double);
        printf("rtt_p50_us=%.2f\nrtt_p99_us=%.2f\n", rtt[skip + kept / 2] * 1e6,
               rtt[skip + (long)(kept * 0.99)] * 1e6);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "sink") == 0) {
        int c = listen_and_accept();
        size_t size = 4 << 20;
        char *buf = malloc(size);
        long long bytes = 0;
        for (;;) {
            ssize_t r = read(c, buf, size);
            if (r <= 0) break;
            bytes += r;
        }
        printf("t_end=%.6f\nbytes=%lld\n", wall(), bytes);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "stream") == 0) {
        int c = connect_to(atoi(argv[2]));
        size_t size = (size_t)atol(argv[3]);
        long count = atol(argv[4]);
        char *buf = malloc(size);
        memset(buf, 'x', size);
        printf("t_start=%.6f\n", wall());
        fflush(stdout);
        for (long i = 0; i < count; i++) write_full(c, buf, size);
        close(c);
        return 0;
    }
    fprintf(stderr, "usage: raw_tcp pong | ping PORT COUNT | sink | stream PORT SIZE COUNT\n");
    return 2;
}
