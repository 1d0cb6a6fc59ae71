// TLSContext: one OpenSSL SSL_CTX configured for mmnet (TLS 1.3, external PSK, one cipher suite
// by key size), with the PSK session its callbacks hand out. A listener can create one and share
// it among the sessions of its accepted connections; each TLSSession keeps its context alive.
// Freed in deinit: no global OpenSSL object outlives the library.
//
// Thread: any. Created and configured on one thread; afterwards read-only (OpenSSL allows
// SSL_new on one SSL_CTX from several threads).
import COpenSSLShim

/// A configured SSL_CTX and its PSK, for one key and one role.
public final class TLSContext: @unchecked Sendable {
    /// The role of every session made from this context.
    public let role: TLSSession.Role
    /// The key size in bits (128 or 256).
    public var bits: Int { key.bits }
    /// The key (its bytes are wiped when the last copy of it goes).
    let key: PresharedKey
    /// The SSL_CTX (owned).
    let context: OpaquePointer
    /// The method of the sessions' pipe BIOs (owned; freed after the sessions, which keep their
    /// context alive).
    let pipeMethod: OpaquePointer
    /// The TLS 1.3 SSL_SESSION holding the key as its master key (owned; the SSL_CTX points
    /// at it from ex_data slot 0).
    let psk: OpaquePointer

    /// Seconds the PSK session is valid from its making: as good as for ever. OpenSSL gives a
    /// new session 304 s, and a server past them found its key's session timed out at every
    /// handshake, fell back to certificates it has none of, and refused every new encrypted
    /// connection from 5 minutes after it was made (found by a soak review, 2026-12-07).
    static let pskLifetime = Int(Int32.max)

    /// Creates a context for `key` in `role`.
    ///
    /// - Parameters:
    ///   - key: the pre-shared key; its size picks TLS_AES_128_GCM_SHA256 (128-bit) or
    ///     TLS_AES_256_GCM_SHA384 (256-bit).
    ///   - role: client or server.
    /// - Throws: `TLSError` of kind `.setup` when OpenSSL cannot build the context.
    public init(key: PresharedKey, role: TLSSession.Role) throws(TLSError) {
        self.role = role
        self.key = key
        OpenSSLErrorQueue.clear()
        let method = role == .client ? TLS_client_method() : TLS_server_method()
        guard let context = SSL_CTX_new(method) else { throw TLSContext.setupError("SSL_CTX_new") }
        guard mmnet_tls_configure_ctx(context, key.cipherSuite) == 1 else {
            SSL_CTX_free(context)
            throw TLSContext.setupError("configuring TLS 1.3")
        }
        guard let psk = TLSContext.makePSK(key: key, context: context) else {
            SSL_CTX_free(context)
            throw TLSContext.setupError("building the PSK session")
        }
        guard mmnet_tls_install_psk(context, role == .server ? 1 : 0, psk) == 1 else {
            SSL_CTX_free(context)
            SSL_SESSION_free(psk)
            throw TLSContext.setupError("installing the PSK callback")
        }
        guard let pipeMethod = mmnet_pipe_method_new() else {
            SSL_CTX_free(context)
            SSL_SESSION_free(psk)
            throw TLSContext.setupError("making the BIO method")
        }
        self.context = context
        self.psk = psk
        self.pipeMethod = pipeMethod
    }

    deinit {
        SSL_CTX_free(context)
        SSL_SESSION_free(psk)  // after the context, which points at it; cleanses the key
        mmnet_pipe_method_free(pipeMethod)
    }

    /// A TLS 1.3 SSL_SESSION with the key as master key and the key size's cipher suite, or nil.
    private static func makePSK(key: PresharedKey, context: OpaquePointer) -> OpaquePointer? {
        // SSL_CIPHER_find needs an SSL; a throwaway one from the context serves.
        guard let probe = SSL_new(context) else { return nil }
        defer { SSL_free(probe) }
        let id: [UInt8] = key.bits == 128 ? [0x13, 0x01] : [0x13, 0x02]
        guard let cipher = SSL_CIPHER_find(probe, id), let session = SSL_SESSION_new() else {
            return nil
        }
        let ok = key.withUnsafeBytes { bytes in
            SSL_SESSION_set1_master_key(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1
        } && SSL_SESSION_set_cipher(session, cipher) == 1
            && SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION) == 1
            && SSL_SESSION_set_timeout(session, pskLifetime) != 0
        if !ok {
            SSL_SESSION_free(session)
            return nil
        }
        return session
    }

    /// A `.setup` error for `step`, with OpenSSL's reasons (the queue drained).
    static func setupError(_ step: String) -> TLSError {
        let reasons = OpenSSLErrorQueue.reasons(OpenSSLErrorQueue.drain(), fallback: "unknown error")
        return TLSError(.setup, "TLS setup failed (\(step)): \(reasons)")
    }
}
