// COpenSSLShim: OpenSSL macro wrappers and the external-PSK callbacks (see the header).
//
// Thread: any; each SSL / SSL_CTX is used by one thread at a time (the caller's lock).
#include <string.h>
#include "COpenSSLShim.h"

const char mmnet_tls_psk_identity[] = "mmnet";

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
    if (md != NULL && SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(psk)) != md) return 1;
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

long mmnet_bio_set_mem_eof_return(BIO *bio, long value) {
    return BIO_set_mem_eof_return(bio, value);
}
