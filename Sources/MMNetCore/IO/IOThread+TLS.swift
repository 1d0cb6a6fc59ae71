// The I/O thread's side of encrypted connections: driving the TLS handshake, decrypting what
// arrives into the connection's input, and turning TLS failures into the events of the phase
// they happen in (the encryption of queued frames is `Connection+Encryption.swift`).
//
// Thread: I/O thread only (the TLS session is used under the connection's lock).
import Glibc

extension IOThread {
    /// The client's TCP connect completed: send the ClientHello.
    func startHandshake(_ connection: Connection) {
        guard let tls = connection.tls else { return }
        let problem = connection.lock.withLock { () -> TLSError? in
            defer { connection.collectCiphertext() }
            do throws(TLSError) {
                _ = try tls.advanceHandshake()
                return nil
            } catch {
                return error
            }
        }
        if let problem {
            tlsFailed(connection, problem)
        } else {
            flush(connection)
        }
    }

    /// Most bytes of TLS records the engine may write in reply to the peer's (each KeyUpdate
    /// that asks for one gets one) while the send queue has not been empty: a peer that sends
    /// such requests and reads nothing would otherwise grow it without end. mmnet's peers
    /// send none; a peer that asks now and then never comes near it.
    static let unreadRepliesLimit = 64 * 1024

    /// Appends the plaintext the session yields from the ciphertext it received to the
    /// connection's input. Returns false when the connection failed or the peer ended the
    /// stream (both handled here); true when the input is ready to be processed.
    func decrypt(_ connection: Connection) -> Bool {
        guard let tls = connection.tls else { return true }
        var endOfTLS = false
        var outOfMemory = false
        var unreadReplies = false
        let (wasComplete, problem) = connection.lock.withLock { () -> (Bool, TLSError?) in
            let wasComplete = tls.isHandshakeComplete
            let queuedBefore = connection.queuedBytes
            defer {
                connection.collectCiphertext()
                if wasComplete {
                    connection.repliesQueued += connection.queuedBytes - queuedBefore
                    unreadReplies = connection.repliesQueued > IOThread.unreadRepliesLimit
                }
            }
            do throws(TLSError) {
                while true {
                    guard let space = connection.input.writableSpace(minimum: readSize(connection)) else {
                        outOfMemory = true
                        break
                    }
                    guard let n = try tls.readPlaintext(into: space) else { break }
                    if n == 0 {
                        endOfTLS = true
                        break
                    }
                    connection.input.didWrite(n)
                    // The read that would find nothing is skipped (callgrind, encrypted ping-pong:
                    // 11,400 instructions to decrypt a message with it, 7,700 without it and with
                    // the error queue looked at before it is cleared).
                    if !tls.hasUnreadInput { break }
                }
                connection.input.releaseIfEmpty()  // the last read's space, when it found nothing
                return (wasComplete, nil)
            } catch {
                return (wasComplete, error)
            }
        }
        if let problem {
            sendFinalRecords(connection, problem)
            failAfterInput(connection, problem.message)
            return false
        }
        if outOfMemory {
            failAfterInput(connection, memoryFailure(connection))
            return false
        }
        if unreadReplies {
            failAfterInput(connection, "the peer asks for TLS replies (KeyUpdate) and does not read them")
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

    /// Fails `connection` for `reason` once the messages that its input holds whole are
    /// delivered, as a plain stream's frames before a bad one are (`endOfStream`): the records
    /// decrypted before a failure hold whole messages. They used to be dropped: a burst's
    /// messages were lost without a word when its last record failed its integrity check. A
    /// closing connection wants nothing more and fails at once.
    private func failAfterInput(_ connection: Connection, _ reason: String) {
        if connection.currentPhase < .closing {
            endOfStream(connection, StreamEnd(reason: reason, isError: true))
        } else {
            fail(connection, reason)
        }
    }

    /// A TLS failure: tell the peer why (`sendFinalRecords`), then fail the connection.
    func tlsFailed(_ connection: Connection, _ error: TLSError) {
        sendFinalRecords(connection, error)
        fail(connection, error.message)
    }

    /// Tells the peer why its connection fails, when it can understand it: writes what is
    /// queued, the TLS alert last; or, for a plain mmnet peer, our hello alone, which says this
    /// side is encrypted.
    private func sendFinalRecords(_ connection: Connection, _ error: TLSError) {
        connection.lock.withLock {
            if error.kind == .notEncrypted {
                connection.outQueue.removeAll()
                connection.outQueue.append(ByteBlock(Hello.bytes(encrypted: true)))
            }
            writeLastBytes(connection)
        }
    }

    /// Ends an encrypted connection's TLS stream before it is closed with nothing left to send
    /// (a peer timed out, a protocol failure): close_notify, written now if the socket takes
    /// it, never waited for. Its peer then sees the end a plain connection's peer sees (a FIN:
    /// "closed by peer"), not "closed the connection without TLS close_notify", an
    /// EVENT_ERROR that says its data may have been cut off when none was (a process woken
    /// from a stop longer than its peer's PeerTimeout, 3 runs of 3).
    func writeCloseNotify(_ connection: Connection) {
        connection.lock.withLock {
            guard let tls = connection.tls, tls.isHandshakeComplete, !connection.tlsClosed, !connection.writeShut else {
                return
            }
            connection.tlsClosed = true
            tls.close()
            connection.collectCiphertext()
            writeLastBytes(connection)
        }
    }

    /// Writes what the send queue holds of a connection about to finish, as far as the socket
    /// takes it now (never waited for), counted in BytesSent; the rest is dropped. Call under
    /// the connection's lock.
    private func writeLastBytes(_ connection: Connection) {
        let (blocks, offset) = connection.outQueue.takeAll()
        connection.counters.bytesSent += IOThread.writeFrames(connection.fd, blocks, from: offset).bytes
    }
}
