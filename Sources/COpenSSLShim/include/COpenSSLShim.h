// COpenSSLShim: OpenSSL's headers for Swift, plus the few things Swift cannot import or should
// not hold itself, under an `mmnet_` prefix: what needs OpenSSL's function-like macros (the
// context setup, with SSL_CTX_set_min_proto_version, the SSL_OP_* bits, ...; and
// SSL_get_negotiated_group); the two TLS 1.3 external-PSK callbacks, which hand out a PSK
// session kept in the SSL_CTX and must return a pointer to an identity that outlives the call;
// and the pipe BIO between an SSL and the I/O thread.
//
// Thread: any; each SSL / SSL_CTX is used by one thread at a time (the caller's lock).
#ifndef MMNET_COPENSSLSHIM_H
#define MMNET_COPENSSLSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

/// Configures a fresh SSL_CTX the way every mmnet session uses it: TLS 1.3 only, exactly the
/// one `ciphersuite` ("TLS_AES_128_GCM_SHA256" or "TLS_AES_256_GCM_SHA384"), key exchange groups
/// X25519 then P-256 (psk_dhe_ke: the PSK only authenticates, (EC)DHE makes the keys), no
/// certificates, no session tickets, no session cache, no renegotiation-like extras.
/// Returns 1 on success, 0 on failure (OpenSSL's error queue says why).
int mmnet_tls_configure_ctx(SSL_CTX *ctx, const char *ciphersuite);

/// Installs the external-PSK callback for `server` (1: the find-session callback, which accepts
/// only the identity "mmnet") or a client (0: the use-session callback, which offers "mmnet").
/// Both hand out `psk`, a TLS 1.3 SSL_SESSION holding the key as its master key; the context
/// stores the pointer (ex_data slot 0) but takes no reference: the caller frees `psk` after the
/// context. Returns 1 on success, 0 on failure.
int mmnet_tls_install_psk(SSL_CTX *ctx, int server, SSL_SESSION *psk);

/// 1 when the server callback saw the client offer a PSK identity other than "mmnet", else 0.
int mmnet_tls_saw_unknown_identity(const SSL *ssl);

/// SSL_get_negotiated_group (a macro): the NID of the key exchange group, 0 if none yet.
int mmnet_tls_negotiated_group(SSL *ssl);

// ---- The pipe BIO: between one SSL and the I/O thread -----------------------------------
// Bytes the I/O thread read from the socket are fed in and wait for SSL to read them; what SSL
// writes collects until the I/O thread takes it. Like a pair of memory BIOs, but neither
// buffer is zeroed as it grows or refills (a memory BIO clears every byte before copying it in,
// which costs as much as the copy), and a read of an empty input means "retry later".

/// The method of pipe BIOs; one per TLSContext, freed after every BIO made from it.
BIO_METHOD *mmnet_pipe_method_new(void);

/// Frees a method from `mmnet_pipe_method_new`.
void mmnet_pipe_method_free(BIO_METHOD *method);

/// A new, empty pipe BIO of `method` (NULL when out of memory).
BIO *mmnet_pipe_bio_new(BIO_METHOD *method);

/// Appends `length` bytes to the pipe's input. Returns 1, or 0 when out of memory.
int mmnet_pipe_bio_feed(BIO *bio, const void *bytes, size_t length);

/// Room for at least `minimum` more input bytes, for a read straight from the socket;
/// `*available` gets its size. NULL when out of memory. Commit what was written with
/// `mmnet_pipe_bio_commit_input`.
unsigned char *mmnet_pipe_bio_input_space(BIO *bio, size_t minimum, size_t *available);

/// Records that `length` bytes were written into the space `mmnet_pipe_bio_input_space` gave.
void mmnet_pipe_bio_commit_input(BIO *bio, size_t length);

/// Makes `buffer` (from malloc, `capacity` bytes) the pipe's output buffer, so that SSL writes
/// its next records straight into it. Returns 1 when taken (the pipe owns it now and frees
/// its old, empty one); 0 when output is waiting or the pipe's own buffer is as large (the
/// caller keeps `buffer`).
int mmnet_pipe_bio_give_output(BIO *bio, unsigned char *buffer, size_t capacity);

/// Hands the caller the output SSL has written so far, in the pipe's own buffer (from malloc:
/// the caller frees it): `*length` bytes used of `*capacity`. The pipe starts a new buffer at
/// its next write. NULL when no output is waiting.
unsigned char *mmnet_pipe_bio_take_output(BIO *bio, size_t *length, size_t *capacity);

#endif
