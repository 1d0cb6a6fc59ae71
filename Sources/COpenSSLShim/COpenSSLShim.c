// COpenSSLShim: OpenSSL macro wrappers, the external-PSK callbacks and the pipe BIO (see the
// header).
//
// Thread: any; each SSL / SSL_CTX is used by one thread at a time (the caller's lock).
#include <stdlib.h>
#include <string.h>
#include "COpenSSLShim.h"

/// The PSK identity mmnet sends and accepts: "mmnet" (5 bytes, no terminator on the wire).
static const char mmnet_tls_psk_identity[] = "mmnet";

/// A marker stored in an SSL's ex_data slot 0 when the client offered an unknown identity.
static const char unknown_identity_marker = 1;

int mmnet_tls_configure_ctx(SSL_CTX *ctx, const char *ciphersuite) {
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) return 0;
    if (!SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) return 0;
    if (!SSL_CTX_set_ciphersuites(ctx, ciphersuite)) return 0;
    if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256")) return 0;
    if (!SSL_CTX_set_num_tickets(ctx, 0)) return 0;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
    SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX | SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* The record buffers (about 17 KiB each way) go back to malloc while a connection is idle:
     * a third of what an idle encrypted connection holds. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return 1;
}

/// The PSK session a context was given (ex_data slot 0).
static SSL_SESSION *context_psk(SSL *ssl) {
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0);
}

/// Client: offer the identity "mmnet" with the context's PSK session, if its hash suits `md`.
static int use_session(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                       SSL_SESSION **sess) {
    SSL_SESSION *psk = context_psk(ssl);
    *sess = NULL;
    *id = NULL;
    *idlen = 0;
    if (psk == NULL) return 0;
    /* Compare digests by type: after a HelloRetryRequest OpenSSL passes its own fetched
     * EVP_MD, never the same pointer as SSL_CIPHER_get_handshake_digest's. */
    const EVP_MD *ours = SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(psk));
    if (md != NULL && (ours == NULL || EVP_MD_get_type(ours) != EVP_MD_get_type(md))) return 1;
    if (!SSL_SESSION_up_ref(psk)) return 0;
    *sess = psk;
    *id = (const unsigned char *)mmnet_tls_psk_identity;
    *idlen = sizeof mmnet_tls_psk_identity - 1;
    return 1;
}

/// Server: accept the identity "mmnet" with the context's PSK session; any other identity
/// finds nothing (and is remembered, to say so in the error).
static int find_session(SSL *ssl, const unsigned char *identity, size_t identity_len,
                        SSL_SESSION **sess) {
    SSL_SESSION *psk = context_psk(ssl);
    *sess = NULL;
    if (psk == NULL) return 0;
    if (identity_len != sizeof mmnet_tls_psk_identity - 1
        || memcmp(identity, mmnet_tls_psk_identity, identity_len) != 0) {
        SSL_set_ex_data(ssl, 0, (void *)&unknown_identity_marker);
        return 1;
    }
    if (!SSL_SESSION_up_ref(psk)) return 0;
    *sess = psk;
    return 1;
}

int mmnet_tls_install_psk(SSL_CTX *ctx, int server, SSL_SESSION *psk) {
    if (!SSL_CTX_set_ex_data(ctx, 0, psk)) return 0;
    if (server) SSL_CTX_set_psk_find_session_callback(ctx, find_session);
    else SSL_CTX_set_psk_use_session_callback(ctx, use_session);
    return 1;
}

int mmnet_tls_saw_unknown_identity(const SSL *ssl) {
    return SSL_get_ex_data(ssl, 0) == &unknown_identity_marker;
}

int mmnet_tls_negotiated_group(SSL *ssl) {
    return (int)SSL_get_negotiated_group(ssl);
}

/* ---- The pipe BIO ------------------------------------------------------------------ */

/* The two buffers of a pipe BIO. */
typedef struct {
    unsigned char *in;      /* fed bytes, unread from in_start to in_end */
    size_t in_start, in_end, in_capacity;
    unsigned char *out;     /* bytes SSL wrote, 0 to out_length */
    size_t out_length, out_capacity;
} pipe_state;

/* Makes room for `more` bytes after `used` in `*buffer` of `*capacity`; 0 when out of memory. */
static int pipe_reserve(unsigned char **buffer, size_t *capacity, size_t used, size_t more) {
    if (*capacity - used >= more) return 1;
    size_t wanted = *capacity ? *capacity * 2 : 16384;
    while (wanted - used < more) wanted *= 2;
    unsigned char *grown = realloc(*buffer, wanted);
    if (grown == NULL) return 0;
    *buffer = grown;
    *capacity = wanted;
    return 1;
}

static int pipe_create(BIO *bio) {
    pipe_state *state = calloc(1, sizeof(pipe_state));
    if (state == NULL) return 0;
    BIO_set_data(bio, state);
    BIO_set_init(bio, 1);
    return 1;
}

static int pipe_destroy(BIO *bio) {
    pipe_state *state = BIO_get_data(bio);
    if (state != NULL) {
        OPENSSL_cleanse(state->in, state->in_capacity);
        OPENSSL_cleanse(state->out, state->out_capacity);
        free(state->in);
        free(state->out);
        free(state);
    }
    BIO_set_data(bio, NULL);
    return 1;
}

static int pipe_write(BIO *bio, const char *data, int length) {
    pipe_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (length <= 0) return 0;
    if (!pipe_reserve(&state->out, &state->out_capacity, state->out_length, (size_t)length)) return -1;
    memcpy(state->out + state->out_length, data, (size_t)length);
    state->out_length += (size_t)length;
    return length;
}

static int pipe_read(BIO *bio, char *data, int length) {
    pipe_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    size_t available = state->in_end - state->in_start;
    if (available == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t n = length < 0 ? 0 : (size_t)length;
    if (n > available) n = available;
    memcpy(data, state->in + state->in_start, n);
    state->in_start += n;
    if (state->in_start == state->in_end) {
        /* All read: the buffer (64 KiB once the socket has read into it) goes back to malloc
         * until more arrives, as a plain connection's input does, so that an idle connection
         * holds none (ciphertext: nothing to cleanse). */
        free(state->in);
        state->in = NULL;
        state->in_start = state->in_end = state->in_capacity = 0;
    }
    return (int)n;
}

static long pipe_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    pipe_state *state = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_PENDING: return (long)(state->in_end - state->in_start);
    case BIO_CTRL_WPENDING: return (long)state->out_length;
    case BIO_CTRL_FLUSH: return 1;
    default: return 0;
    }
}

BIO_METHOD *mmnet_pipe_method_new(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mmnet pipe");
    if (method == NULL) return NULL;
    if (!BIO_meth_set_create(method, pipe_create) || !BIO_meth_set_destroy(method, pipe_destroy)
        || !BIO_meth_set_write(method, pipe_write) || !BIO_meth_set_read(method, pipe_read)
        || !BIO_meth_set_ctrl(method, pipe_ctrl)) {
        BIO_meth_free(method);
        return NULL;
    }
    return method;
}

void mmnet_pipe_method_free(BIO_METHOD *method) { BIO_meth_free(method); }

BIO *mmnet_pipe_bio_new(BIO_METHOD *method) { return BIO_new(method); }

unsigned char *mmnet_pipe_bio_input_space(BIO *bio, size_t minimum, size_t *available) {
    pipe_state *state = BIO_get_data(bio);
    if (state->in_start > 0 && state->in_capacity - state->in_end < minimum) {
        memmove(state->in, state->in + state->in_start, state->in_end - state->in_start);
        state->in_end -= state->in_start;
        state->in_start = 0;
    }
    if (!pipe_reserve(&state->in, &state->in_capacity, state->in_end, minimum)) return NULL;
    *available = state->in_capacity - state->in_end;
    return state->in + state->in_end;
}

void mmnet_pipe_bio_commit_input(BIO *bio, size_t length) {
    pipe_state *state = BIO_get_data(bio);
    state->in_end += length;
}

int mmnet_pipe_bio_feed(BIO *bio, const void *bytes, size_t length) {
    size_t available = 0;
    unsigned char *space = mmnet_pipe_bio_input_space(bio, length, &available);
    if (space == NULL) return 0;
    memcpy(space, bytes, length);
    mmnet_pipe_bio_commit_input(bio, length);
    return 1;
}

int mmnet_pipe_bio_give_output(BIO *bio, unsigned char *buffer, size_t capacity) {
    pipe_state *state = BIO_get_data(bio);
    if (state->out_length > 0 || state->out_capacity >= capacity) return 0;
    free(state->out);
    state->out = buffer;
    state->out_capacity = capacity;
    return 1;
}

unsigned char *mmnet_pipe_bio_take_output(BIO *bio, size_t *length, size_t *capacity) {
    pipe_state *state = BIO_get_data(bio);
    if (state->out_length == 0) return NULL;
    unsigned char *taken = state->out;
    *length = state->out_length;
    *capacity = state->out_capacity;
    state->out = NULL;
    state->out_length = 0;
    state->out_capacity = 0;
    return taken;
}
