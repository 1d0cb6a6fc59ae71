// The I/O thread's side of encrypted connections: driving the TLS handshake, decrypting what
// arrives into the connection's input, encrypting queued frames in batches, and turning TLS
// failures into the events of the phase they happen in.
//
// Thread: I/O thread only (the TLS session is used under the connection's lock).
import Glibc

extension IOThread {
    /// Plaintext bytes encrypted per TLS write at most (several frames per record batch).
    static let encryptBatch = 64 * 1024

    /// The client's TCP connect completed: send the ClientHello.
    func startHandshake(_ connection: Connection) {
        guard let tls = connection.tls else { return }
        let problem = connection.lock.withLock { () -> TLSError? in
            defer { collectCiphertext(connection) }
            do {
                _ = try tls.advanceHandshake()
                return nil
            } catch let error as TLSError {
                return error
            } catch {
                return TLSError(.protocolFailure, "TLS handshake failed: \(error)")
            }
        }
        if let problem {
            tlsFailed(connection, problem)
        } else {
            flush(connection)
        }
    }

    /// Appends the plaintext the session yields from the ciphertext it received to the
    /// connection's input. Returns false when the connection failed or the peer ended the
    /// stream (both handled here); true when the input is ready to be processed.
    func decrypt(_ connection: Connection) -> Bool {
        guard let tls = connection.tls else { return true }
        var endOfTLS = false
        let (wasComplete, problem) = connection.lock.withLock { () -> (Bool, TLSError?) in
            let wasComplete = tls.isHandshakeComplete
            defer { collectCiphertext(connection) }
            do {
                while true {
                    let space = connection.input.writableSpace(minimum: readSize(connection))
                    guard let n = try tls.readPlaintext(into: space) else { break }
                    if n == 0 {
                        endOfTLS = true
                        break
                    }
                    connection.input.didWrite(n)
                }
                return (wasComplete, nil)
            } catch let error as TLSError {
                return (wasComplete, error)
            } catch {
                return (wasComplete, TLSError(.protocolFailure, "TLS read failed: \(error)"))
            }
        }
        if let problem {
            tlsFailed(connection, problem)
            return false
        }
        if !wasComplete || connection.lock.withLock({ !connection.outQueue.isEmpty }) {
            flush(connection)  // handshake records, and the hello and frames waiting for the handshake
        }
        if endOfTLS {
            endOfStream(connection, StreamEnd(reason: "closed by peer", isError: false))
            return false
        }
        return true
    }

    /// Encrypts the plaintext frames waiting (under the connection's lock), batching small
    /// frames into one TLS write; queues close_notify once a closing connection has nothing
    /// left. Returns the failure, if any.
    func encryptPending(_ connection: Connection) -> TLSError? {
        guard let tls = connection.tls, tls.isHandshakeComplete else { return nil }
        defer { collectCiphertext(connection) }
        do {
            while !connection.plainQueue.isEmpty {
                var taken = 1
                var size = connection.plainQueue[0].count
                while taken < connection.plainQueue.count
                        && size + connection.plainQueue[taken].count <= IOThread.encryptBatch {
                    size += connection.plainQueue[taken].count
                    taken += 1
                }
                if taken == 1 {
                    // One frame, possibly large: encrypt it a batch at a time, moving the
                    // ciphertext out as it comes (the memory BIO then never grows past a batch).
                    try connection.plainQueue[0].withUnsafeBytes { frame in
                        var offset = 0
                        while offset < frame.count {
                            let end = min(frame.count, offset + IOThread.encryptBatch)
                            try tls.writePlaintext(UnsafeRawBufferPointer(rebasing: frame[offset..<end]))
                            collectCiphertext(connection)
                            offset = end
                        }
                    }
                } else {
                    var batch = [UInt8]()
                    batch.reserveCapacity(size)
                    for frame in connection.plainQueue[..<taken] { frame.withUnsafeBytes { batch.append(contentsOf: $0) } }
                    try batch.withUnsafeBytes { try tls.writePlaintext($0) }
                }
                connection.plainQueue.removeFirst(taken)
                connection.queuedBytes -= size
            }
            if connection.phase == .closing && !connection.tlsClosed {
                connection.tlsClosed = true
                tls.close()
            }
            return nil
        } catch let error as TLSError {
            return error
        } catch {
            return TLSError(.protocolFailure, "TLS write failed: \(error)")
        }
    }

    /// Moves the ciphertext the session produced into the send queue (under the lock).
    func collectCiphertext(_ connection: Connection) {
        guard let tls = connection.tls else { return }
        while let bytes = tls.takeCiphertext() {
            connection.outQueue.append(ByteBlock(bytes))
            connection.queuedBytes += bytes.count
        }
    }

    /// A TLS failure: tell the peer why when it can understand it (the TLS alert; or, for a
    /// plain mmnet peer, our hello, which says this side is encrypted), then fail the connection.
    func tlsFailed(_ connection: Connection, _ error: TLSError) {
        connection.lock.withLock {
            if error.kind == .notEncrypted {
                connection.outQueue = [ByteBlock(Hello.bytes(encrypted: true))]
                connection.outOffset = 0
            }
            let sent = IOThread.writeFrames(connection.fd, connection.outQueue, from: connection.outOffset)
            connection.counters.bytesSent += sent.bytes
        }
        fail(connection, error.message)
    }
}
