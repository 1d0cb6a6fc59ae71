// TLSSession: the TLS 1.3 engine of one connection, over an in-memory pipe BIO, so the I/O thread
// keeps its non-blocking sockets: it feeds the bytes it read (`feed`), drives the handshake
// (`advanceHandshake`), reads and writes plaintext, and writes what `takeCiphertext` returns.
// Nothing here touches a socket or blocks.
//
// Thread: any thread, under the owning connection's lock: one caller at a time.
import COpenSSLShim

/// One connection's TLS 1.3 external-PSK session (psk_dhe_ke), driven through memory buffers.
///
/// Use: create it at TCP connect/accept; loop { write `takeCiphertext()` to the socket, `feed`
/// what the socket gives, `advanceHandshake()` } until it returns true; then `writePlaintext` /
/// `readPlaintext`, always writing out `takeCiphertext()` afterwards. On any thrown error, still
/// write out `takeCiphertext()` (it holds the alert that tells the peer why) and then close the
/// socket. Errors are sticky: once one is thrown, every later call throws it again.
public final class TLSSession: @unchecked Sendable {
    /// Which side of the handshake this session plays.
    public enum Role: Sendable { case client, server }

    /// The context (kept alive as long as the session).
    public let context: TLSContext
    /// The SSL object (owned; it owns the BIO).
    private let ssl: OpaquePointer
    /// The pipe BIO: OpenSSL reads the ciphertext `feed` puts in, and writes what
    /// `takeCiphertext` takes out.
    private let pipe: OpaquePointer
    /// The first bytes the peer sent (up to 5), to tell "not TLS at all" from other failures.
    private var firstBytes: [UInt8] = []
    /// The error that ended the session, thrown again by every later call.
    private var failure: TLSError?
    /// True once `close()` ran.
    private var closed = false

    /// True once the handshake has completed (keys agreed, the peer proved it holds the key).
    public private(set) var isHandshakeComplete = false

    /// Creates a session with its own context.
    /// - Parameters:
    ///   - key: the pre-shared key.
    ///   - role: client (sends the ClientHello) or server.
    /// - Throws: `TLSError` of kind `.setup` when OpenSSL cannot build it.
    public convenience init(key: PresharedKey, role: Role) throws(TLSError) {
        try self.init(context: TLSContext(key: key, role: role))
    }

    /// Creates a session from a shared context (e.g. one per listener).
    /// - Parameter context: the context; its role is the session's role.
    /// - Throws: `TLSError` of kind `.setup` when OpenSSL cannot build it.
    public init(context: TLSContext) throws(TLSError) {
        self.context = context
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else { throw TLSContext.setupError("SSL_new") }
        guard let pipe = mmnet_pipe_bio_new(context.pipeMethod) else {
            SSL_free(ssl)
            throw TLSContext.setupError("BIO_new")
        }
        SSL_set_bio(ssl, pipe, pipe)  // the SSL owns the BIO (one reference for both ends)
        if context.role == .client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        self.ssl = ssl
        self.pipe = pipe
    }

    deinit {
        SSL_free(ssl)  // frees the BIO; the context (and its BIO method) is released after
    }

    /// The session has failed (out of memory for the peer's bytes, or a TLS error): it takes no
    /// more input, and the next `readPlaintext` or `advanceHandshake` throws why.
    public var hasFailed: Bool { failure != nil }

    /// Hands the engine bytes read from the socket. Never fails: problems in them surface from
    /// the next `advanceHandshake` / `readPlaintext`.
    /// - Parameter ciphertext: the bytes, in the order received.
    public func feed(_ ciphertext: UnsafeRawBufferPointer) {
        guard let base = ciphertext.baseAddress, ciphertext.count > 0, failure == nil else { return }
        if firstBytes.count < 5 { firstBytes += ciphertext.prefix(5 - firstBytes.count) }
        if mmnet_pipe_bio_feed(pipe, base, ciphertext.count) == 0 {
            failure = TLSError(.setup, "TLS: out of memory")
        }
    }

    /// Lets `read` put ciphertext straight into the engine's input (a read from the socket),
    /// saving the copy `feed` makes. `read` gets room for at least `minimum` bytes and returns
    /// how many it wrote (nil or 0: none); that result is returned.
    public func receive<E: Error>(minimum: Int, _ read: (UnsafeMutableRawBufferPointer) throws(E) -> Int?) throws(E) -> Int? {
        guard failure == nil else { return nil }  // the connection is being failed already
        var available = 0
        guard let space = mmnet_pipe_bio_input_space(pipe, minimum, &available) else {
            failure = TLSError(.setup, "TLS: out of memory")
            return nil
        }
        let buffer = UnsafeMutableRawBufferPointer(start: space, count: available)
        let n = try read(buffer)
        if let n, n > 0 {
            if firstBytes.count < 5 { firstBytes += UnsafeRawBufferPointer(buffer).prefix(min(n, 5 - firstBytes.count)) }
            mmnet_pipe_bio_commit_input(pipe, n)
        }
        return n
    }

    /// Runs the handshake as far as the bytes fed so far allow.
    /// - Returns: true once the handshake is complete; false while it waits for the peer (write
    ///   out `takeCiphertext()`, then feed what arrives and call again).
    /// - Throws: `TLSError`: `.wrongKey`, `.notEncrypted`, `.peerAlert`, `.protocolFailure`.
    public func advanceHandshake() throws(TLSError) -> Bool {
        if let failure { throw failure }
        if isHandshakeComplete { return true }
        if closed { throw TLSError(.misuse, "TLS session is closed") }
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            _ = OpenSSLErrorQueue.drain()
            isHandshakeComplete = true
            return true
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE {
            _ = OpenSSLErrorQueue.drain()
            return false
        }
        throw fail(during: "TLS handshake failed", code: code)
    }

    /// Decrypts the next plaintext bytes, completing the handshake first if it is not yet.
    /// - Parameter buffer: where to put them; gets at most `buffer.count` bytes.
    /// - Returns: nil when more ciphertext is needed; 0 when the peer sent close_notify (an
    ///   orderly end); otherwise the number of bytes written into `buffer`.
    /// - Throws: `TLSError`: `.tampered` (a record failed its check), `.peerAlert`,
    ///   `.protocolFailure`, or a handshake error.
    public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int? {
        if let failure { throw failure }
        guard try advanceHandshake() else { return nil }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return nil }
        OpenSSLErrorQueue.clear()
        var count = 0
        let result = SSL_read_ex(ssl, base, buffer.count, &count)
        if result == 1 {
            _ = OpenSSLErrorQueue.drain()
            return count
        }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            _ = OpenSSLErrorQueue.drain()
            return nil
        case SSL_ERROR_ZERO_RETURN:
            _ = OpenSSLErrorQueue.drain()
            return 0
        default:
            throw fail(during: "TLS read failed", code: code)
        }
    }

    /// Encrypts `bytes` into records; the ciphertext becomes available from `takeCiphertext`.
    /// Writes all of them (the output buffer grows as needed).
    /// - Parameter bytes: the plaintext.
    /// - Throws: `TLSError` of kind `.misuse` before the handshake completes or after `close`,
    ///   or the session's earlier error.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        if let failure { throw failure }
        guard isHandshakeComplete else {
            throw TLSError(.misuse, "TLS write before the handshake completed")
        }
        if closed { throw TLSError(.misuse, "TLS write after close") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        OpenSSLErrorQueue.clear()
        var written = 0
        let result = SSL_write_ex(ssl, base, bytes.count, &written)
        if result == 1 && written == bytes.count {
            _ = OpenSSLErrorQueue.drain()
            return
        }
        throw fail(during: "TLS write failed", code: SSL_get_error(ssl, result))
    }

    /// Takes the ciphertext waiting to be written to the socket: handshake records, encrypted
    /// data, alerts, close_notify.
    /// - Returns: the bytes, or nil when there are none.
    public func takeCiphertext() -> [UInt8]? {
        takeCiphertext(pool: nil)?.withUnsafeBytes { [UInt8]($0) }
    }

    /// Takes the ciphertext waiting, as a block that owns the engine's output buffer (no copy);
    /// the buffer goes back to `pool` when the last copy of the block goes.
    /// - Returns: the bytes, or nil when there are none.
    public func takeCiphertext(pool: BufferPool?) -> ByteBlock? {
        var length = 0
        var capacity = 0
        guard let bytes = mmnet_pipe_bio_take_output(pipe, &length, &capacity) else { return nil }
        return ByteBlock(adopting: bytes, offset: 0, count: length, capacity: capacity, pool: pool)
    }

    /// Makes room for the ciphertext of `plaintext` bytes before they are written, in a buffer
    /// from `pool` (one that went out to the socket before): the records are encrypted into it
    /// and `takeCiphertext(pool:)` hands it on, where the engine's own buffer would take fresh
    /// memory for each write. Nothing happens while ciphertext is waiting.
    public func reserveCiphertext(for plaintext: Int, pool: BufferPool) {
        // A TLS 1.3 record adds 22 bytes (header, content type, tag) to at most 16 KiB.
        let size = plaintext + 22 * (plaintext / 16_384 + 1)
        guard let (memory, capacity) = BufferPool.allocate(size, from: pool) else { return }
        if mmnet_pipe_bio_give_output(pipe, memory.assumingMemoryBound(to: UInt8.self), capacity) == 0 {
            BufferPool.release(memory, capacity: capacity, to: pool)
        }
    }

    /// Queues close_notify (when the handshake has completed), for `takeCiphertext`. Later
    /// writes throw; reads still return what the peer sent before its own close_notify.
    public func close() {
        guard !closed else { return }
        closed = true
        guard isHandshakeComplete, failure == nil else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        _ = OpenSSLErrorQueue.drain()
    }

    /// Whether the engine holds input not yet read: ciphertext fed but not decrypted (a whole
    /// record or part of one), or plaintext of a decrypted record not yet all read. When it
    /// holds none, `readPlaintext` can only return nil (more ciphertext needed).
    public var hasUnreadInput: Bool {
        SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(pipe) > 0
    }

    /// Why the peer's end of the TCP stream loses data, or nil: the engine still holds part of
    /// a record (bytes of it are missing), or the handshake completed and no close_notify came.
    public var truncation: String? {
        if hasUnreadInput {
            return "peer closed the connection in the middle of a TLS record (data lost)"
        }
        if isHandshakeComplete && (SSL_get_shutdown(ssl) & Int32(SSL_RECEIVED_SHUTDOWN)) == 0 {
            return "peer closed the connection without TLS close_notify (its data may have been cut off)"
        }
        return nil
    }

    /// The negotiated cipher suite (OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384"), or nil
    /// before the handshake completes.
    public var negotiatedCipher: String? {
        guard isHandshakeComplete, let cipher = SSL_get_current_cipher(ssl),
              let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The (EC)DHE group the keys were agreed with (e.g. "x25519"), or nil before the handshake
    /// completes. Its presence shows the session used psk_dhe_ke, not the PSK alone.
    public var negotiatedGroup: String? {
        guard isHandshakeComplete else { return nil }
        let nid = mmnet_tls_negotiated_group(ssl)
        guard nid != 0, let name = SSL_group_to_name(ssl, nid) else { return nil }
        return String(cString: name)
    }

    /// Records and returns the error for a failed operation (`code` from SSL_get_error),
    /// draining OpenSSL's queue into its message.
    private func fail(during operation: String, code: Int32) -> TLSError {
        let entries = OpenSSLErrorQueue.drain()
        let error = TLSErrorClassifier.classify(
            operation: operation, code: code, entries: entries, firstBytes: firstBytes,
            unknownIdentity: mmnet_tls_saw_unknown_identity(ssl) == 1,
            handshakeComplete: isHandshakeComplete)
        failure = error
        return error
    }
}
