/* tls_peer: a hostile encrypted mmnet client for the specs (spec/hostile_tls_spec.lua). It
 * makes mmnet's TLS 1.3 handshake with the external pre-shared key (PROTOCOL.md, "Encryption":
 * identity "mmnet", TLS_AES_128_GCM_SHA256 for a 128-bit key, X25519), sends mmnet's
 * encrypted hello, then misbehaves in one of the ways below (all but `halfclose` never read
 * what the server sends):
 *
 *   tls_peer PORT HEXKEY keyupdate COUNT
 *       sends COUNT TLS KeyUpdate messages that each ask the server for one in reply
 *   tls_peer PORT HEXKEY closeflood SECONDS
 *       sends one message ({}) and then pings, as fast as the socket takes them, for SECONDS
 *       or until the server closes the connection (the spec's script disconnects it on the
 *       message)
 *   tls_peer PORT HEXKEY nonotify COUNT
 *       sends COUNT messages ({}) in one TLS record, then ends its side of the TCP stream
 *       without a TLS close_notify (what a cut stream looks like), and waits for the close
 *   tls_peer PORT HEXKEY cut COUNT
 *       the same, but the record's last 5 bytes never go out: the messages cannot be decrypted
 *   tls_peer PORT HEXKEY flip COUNT
 *       sends COUNT messages ({}), each in a record of its own, and one more record whose last
 *       byte is changed (it fails its integrity check), all in one write, and waits for the close
 *   tls_peer PORT HEXKEY keyless 0
 *       sends a hello whose flags say it has no key (inside TLS: a broken peer), and waits
 *       for the close
 *   tls_peer PORT HEXKEY halfclose COUNT
 *       waits until the server has stopped writing (for 300 ms), then reads its messages,
 *       sends a TLS close_notify once COUNT have arrived (a TLS 1.3 half-close: the server may
 *       write on), and reads on to the end of the stream; this mode alone reads what the
 *       server sends
 *
 * Prints "READY" after the handshake, then "SENT <bytes of TLS plaintext> <how it ended>" where
 * the ending is "done" (all sent), "closed" (the server ended the connection) or, for nonotify,
 * cut, flip and keyless, "ended" (the server closed its side within 5 s); halfclose prints instead
 * "GOT <messages read> notify" when the stream ended with the server's close_notify, "GOT
 * <messages read> eof" when it ended without one. Exit status 0
 * in all cases; 1 with a message on stderr when the connection or handshake fails.
 *
 * Thread: its own process's main thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The session the PSK callback offers: the key as the master key of a TLS 1.3 session. */
static SSL_SESSION *psk_session;

/* Stops with a message (and OpenSSL's error queue) on stderr. */
static void fail(const char *what) {
    fprintf(stderr, "tls_peer: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* OpenSSL's client PSK callback: offers psk_session under mmnet's identity when its hash is
 * the one asked for. */
static int use_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *id_length,
                   SSL_SESSION **session) {
    (void)ssl;
    if (md != NULL && SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(psk_session)) != md) {
        *session = NULL;
        *id = NULL;
        *id_length = 0;
        return 1;
    }
    SSL_SESSION_up_ref(psk_session);
    *session = psk_session;
    *id = (const unsigned char *)"mmnet";
    *id_length = 5;
    return 1;
}

/* Monotonic seconds. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A TLS client connected to 127.0.0.1:port with the handshake done, for a 16-byte key. */
static SSL *connect_tls(int port, const unsigned char key[16]) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) fail("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(context, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set1_groups_list(context, "X25519");
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    SSL_CTX_clear_options(context, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_psk_use_session_callback(context, use_psk);
    SSL *probe = SSL_new(context);
    const unsigned char suite[2] = { 0x13, 0x01 };
    psk_session = SSL_SESSION_new();
    if (probe == NULL || psk_session == NULL) fail("SSL_new");
    SSL_SESSION_set1_master_key(psk_session, key, 16);
    SSL_SESSION_set_cipher(psk_session, SSL_CIPHER_find(probe, suite));
    SSL_SESSION_set_protocol_version(psk_session, TLS1_3_VERSION);
    SSL_free(probe);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(context);
    if (ssl == NULL) fail("SSL_new");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) fail("handshake");
    return ssl;
}

/* Writes all of bytes; false once the server has ended the connection. */
static int write_all(SSL *ssl, const void *bytes, int count) {
    return SSL_write(ssl, bytes, count) == count;
}

/* Makes the session's records go to memory, not to the socket, until sent with send_records. */
static BIO *capture(SSL *ssl) {
    BIO *records = BIO_new(BIO_s_mem());
    if (records == NULL) fail("out of memory");
    BIO_up_ref(records);
    SSL_set0_wbio(ssl, records);
    return records;
}

/* Writes the records `capture` kept to the socket in one go, all but their last `cut` bytes,
 * with the last byte written changed when `flip` is set; false once the server has ended the
 * connection. */
static int send_records(SSL *ssl, BIO *records, size_t cut, int flip) {
    unsigned char *bytes;
    long pending = BIO_get_mem_data(records, (char **)&bytes);
    size_t keep = (size_t)pending - cut;
    if (flip) bytes[keep - 1] ^= 0x01;
    int fd = SSL_get_fd(ssl);
    for (size_t done = 0; done < keep; ) {
        ssize_t n = write(fd, bytes + done, keep - done);
        if (n <= 0) return 0;
        done += (size_t)n;
    }
    BIO_free(records);
    return 1;
}

/* Writes `count` copies of `message` as one TLS record, all of it or all but its last 5 bytes
 * (`cut`), straight to the socket, then ends the TCP stream without a close_notify. */
static int cut_stream(SSL *ssl, const unsigned char *message, size_t size, long count, int cut) {
    size_t length = size * (size_t)count;
    unsigned char *plain = malloc(length);
    if (plain == NULL) fail("out of memory");
    for (long i = 0; i < count; i++) memcpy(plain + (size_t)i * size, message, size);
    BIO *records = capture(ssl);
    if (SSL_write(ssl, plain, (int)length) != (int)length) fail("SSL_write");
    free(plain);
    return send_records(ssl, records, cut ? 5 : 0, 0) && shutdown(SSL_get_fd(ssl), SHUT_WR) == 0;
}

/* Writes `count` copies of `message`, each in a record of its own, then one more whose last
 * byte is changed, straight to the socket in one write. */
static int flip_stream(SSL *ssl, const unsigned char *message, size_t size, long count) {
    BIO *records = capture(ssl);
    for (long i = 0; i <= count; i++) {
        if (SSL_write(ssl, message, (int)size) != (int)size) fail("SSL_write");
    }
    return send_records(ssl, records, 0, 1);
}

/* Waits until bytes have come and no more have for 300 ms (the server sent all it had, as
 * far as the socket buffers take it), or 10 s pass. */
static void wait_for_quiet(int fd) {
    double end = now() + 10, changed = now();
    int last = 0;
    while (now() < end) {
        int waiting = 0;
        ioctl(fd, FIONREAD, &waiting);
        if (waiting != last) {
            last = waiting;
            changed = now();
        } else if (waiting > 0 && now() - changed >= 0.3) {
            return;
        }
        nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
    }
}

/* Reads the server's stream (its hello, then frames: a 4-byte big-endian length, a type byte
 * and the body; type 0 is a message) to its end, sending close_notify once `count` messages
 * have arrived. Returns the messages read; sets *notified when the end was a close_notify. */
static long read_after_halfclose(SSL *ssl, long count, int *notified) {
    static unsigned char buffer[65536];
    unsigned char header[5];
    size_t skip = 8, have = 0, body = 0;  /* the hello's bytes; a header's; a body's left */
    long messages = 0;
    int shut = 0;
    *notified = 0;
    while (1) {
        if (!shut && messages >= count) shut = SSL_shutdown(ssl) >= 0;
        int n = SSL_read(ssl, buffer, sizeof buffer);
        if (n <= 0) {
            *notified = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
            return messages;
        }
        for (int i = 0; i < n; i++) {
            if (skip > 0) {
                skip--;
            } else if (body > 0) {
                size_t take = (size_t)(n - i) < body ? (size_t)(n - i) : body;
                body -= take;
                i += (int)take - 1;
            } else {
                header[have++] = buffer[i];
                if (have < sizeof header) continue;
                have = 0;
                body = (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
                if (header[4] == 0) messages++;
            }
        }
    }
}

/* Reads and drops what the server sends until it closes its side (true) or 5 s pass. */
static int ended(int fd) {
    double end = now() + 5;
    unsigned char buffer[4096];
    struct timeval step = { 0, 100000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &step, sizeof step);
    while (now() < end) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n == 0) return 1;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5 || strlen(argv[2]) != 32) {
        fprintf(stderr, "usage: tls_peer PORT HEXKEY(32 digits) keyupdate COUNT | closeflood SECONDS | nonotify COUNT | cut COUNT | flip COUNT | keyless 0 | halfclose COUNT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    unsigned char key[16];
    for (int i = 0; i < 16; i++) {
        if (sscanf(argv[2] + 2 * i, "%2hhx", &key[i]) != 1) fail("bad key");
    }
    const char *mode = argv[3];
    long amount = atol(argv[4]);
    SSL *ssl = connect_tls(atoi(argv[1]), key);
    printf("READY\n");
    fflush(stdout);

    unsigned char hello[8] = { 'M', 'M', 'N', 'T', 1, 1, 0, 0 };
    if (strcmp(mode, "keyless") == 0) hello[5] = 0;
    static const unsigned char message[6] = { 0, 0, 0, 1, 0, 0x80 };  /* {} */
    static const unsigned char ping[13] = { 0, 0, 0, 8, 1, 1, 2, 3, 4, 5, 6, 7, 8 };
    long sent = 0;
    int open = write_all(ssl, hello, sizeof hello);
    if (open) sent += sizeof hello;
    if (open && strcmp(mode, "keyupdate") == 0) {
        for (long i = 0; i < amount && open; i++) {
            open = SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1 && SSL_do_handshake(ssl) == 1;
        }
    } else if (open && strcmp(mode, "closeflood") == 0) {
        open = write_all(ssl, message, sizeof message);
        if (open) sent += sizeof message;
        unsigned char pings[1000 * sizeof ping];
        for (size_t i = 0; i < 1000; i++) memcpy(pings + i * sizeof ping, ping, sizeof ping);
        double end = now() + (double)amount;
        while (open && now() < end) {
            open = write_all(ssl, pings, (int)sizeof pings);
            if (open) sent += (long)sizeof pings;
        }
    } else if (open && (strcmp(mode, "nonotify") == 0 || strcmp(mode, "cut") == 0)) {
        open = cut_stream(ssl, message, sizeof message, amount, strcmp(mode, "cut") == 0);
        if (open) sent += (long)sizeof message * amount;
        printf("SENT %ld %s\n", sent, open && ended(SSL_get_fd(ssl)) ? "ended" : "closed");
        return 0;
    } else if (open && strcmp(mode, "keyless") == 0) {
        printf("SENT %ld %s\n", sent, ended(SSL_get_fd(ssl)) ? "ended" : "closed");
        return 0;
    } else if (open && strcmp(mode, "flip") == 0) {
        open = flip_stream(ssl, message, sizeof message, amount);
        if (open) sent += (long)sizeof message * amount;
        printf("SENT %ld %s\n", sent, open && ended(SSL_get_fd(ssl)) ? "ended" : "closed");
        return 0;
    } else if (open && strcmp(mode, "halfclose") == 0) {
        int notified;
        wait_for_quiet(SSL_get_fd(ssl));
        long messages = read_after_halfclose(ssl, amount, &notified);
        printf("GOT %ld %s\n", messages, notified ? "notify" : "eof");
        return 0;
    } else if (open) {
        fail("unknown mode");
    }
    printf("SENT %ld %s\n", sent, open ? "done" : "closed");
    return 0;
}
