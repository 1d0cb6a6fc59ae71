// Encrypting a connection's queued plaintext frames into its send queue: by the I/O thread
// before it writes, and by the Lua thread itself when it sends a large frame, so that the two
// threads share the encryption of a stream of large messages.
//
// Thread: both, under the connection's lock (the TLS session is used by one thread at a time).

extension Connection {
    /// Plaintext bytes encrypted per TLS write at most (small frames come packed, many to a
    /// write). Each write's records are one block of the send queue, in a buffer of the state's
    /// pool: 1 MiB keeps a stream of large messages to one block per MiB, so that the buffers a
    /// socket write frees fit in the pool until they are encrypted into again (in 64 KiB
    /// blocks, one in seven 1 MiB messages took fresh pages even with a pool of 64 buffers).
    static let encryptBatch = 1024 * 1024
    /// A frame this large is encrypted by the thread that sends it, at once. Left to the I/O
    /// thread, a stream of large messages had that one thread encrypt and write everything
    /// (86% of a core) while the script's thread waited (15%).
    static let encryptOnSendSize = 64 * 1024

    /// Encrypts the plaintext frames waiting, `encryptBatch` bytes per TLS write at most, into
    /// the send queue; queues close_notify once a closing connection, or one writing out what
    /// was sent after its peer's end (`IOThread.writeOutAfterEnd`), has nothing left. Returns
    /// the failure, if any: once one happened, every later call returns it (so the I/O thread
    /// reports a failure the Lua thread met). Call under `lock`.
    func encryptPending() -> TLSError? {
        guard let tls, tls.isHandshakeComplete else { return nil }
        if let encryptionFailure { return encryptionFailure }
        defer { collectCiphertext() }
        do {
            for block in plainQueue.takeAll().blocks {
                // The ciphertext is moved out after each write: the pipe BIO never grows
                // past a batch, even for a large frame.
                try block.withUnsafeBytes { frame in
                    var offset = 0
                    while offset < frame.count {
                        let end = min(frame.count, offset + Connection.encryptBatch)
                        tls.reserveCiphertext(for: end - offset, pool: context.buffers)
                        try tls.writePlaintext(UnsafeRawBufferPointer(rebasing: frame[offset..<end]))
                        collectCiphertext()
                        offset = end
                    }
                }
                queuedBytes -= block.count
            }
            // `.closed` reaches here only writing out after the peer's end: the script's
            // thread encrypts only for open connections, and a failed one writes no more.
            if phase >= .closing && !tlsClosed {
                tlsClosed = true
                tls.close()
            }
            return nil
        } catch let error as TLSError {
            encryptionFailure = error
        } catch {
            encryptionFailure = TLSError(.protocolFailure, "TLS write failed: \(error)")
        }
        return encryptionFailure
    }

    /// Moves the ciphertext the session produced into the send queue. Call under `lock`.
    func collectCiphertext() {
        guard let tls else { return }
        while let block = tls.takeCiphertext(pool: context.buffers) {
            queuedBytes += block.count
            outQueue.append(block)
        }
    }
}
