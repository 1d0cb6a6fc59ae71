// The I/O thread's socket reads of a connection (what they bring is parsed by
// `IOThread+Frames.swift`): how much room a read gets (never more than the peer has earned),
// plain reads straight into the input, encrypted ones into the TLS engine, and what a read
// that meets an error or the end of the stream does.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
    /// Bytes asked of the kernel per read, at least.
    static let readChunk = 64 * 1024
    /// Frames at least this long (header included) that are alone in the read buffer become
    /// their event's body without a copy (`ReadBuffer.takeAll`).
    static let adoptSize = 64 * 1024

    /// Bytes the next read should make room for: the rest of the frame once its header is
    /// known, as far as `readAllowance` lets it.
    func readSize(_ connection: Connection) -> Int {
        guard let total = waitingFrameSize(connection) else { return IOThread.readChunk }
        return max(IOThread.readChunk, min(total - connection.input.count, readAllowance(connection)))
    }

    /// The most memory a read may set aside for a frame beyond the bytes already in. A declared
    /// length alone earns nothing: a peer gets room for as many bytes as it has sent of the
    /// frame (so a new large frame's buffer doubles as it fills) or for twice its last whole
    /// frame (so a stream of large frames, even growing ones, has each made at its full size
    /// at once), and at least `readChunk`. Without this, 300 peers each sending a header
    /// declaring 16 MiB and one byte set aside 5 GB, which a process with an address-space
    /// limit does not have.
    func readAllowance(_ connection: Connection) -> Int {
        max(IOThread.readChunk, connection.input.count, 2 * connection.lastFrameSize)
    }

    /// Fails `connection` because there was no memory to read into.
    func failForMemory(_ connection: Connection) {
        fail(connection, memoryFailure(connection))
    }

    /// Why a read found no memory for `connection`'s input.
    func memoryFailure(_ connection: Connection) -> String {
        let frame = waitingFrameSize(connection).map { " for a message of \($0 - FrameHeader.size) bytes" } ?? ""
        return "out of memory\(frame)"
    }

    /// The size (header included) of the frame the input starts with, once its header is in.
    private func waitingFrameSize(_ connection: Connection) -> Int? {
        guard connection.helloReceived && connection.input.count >= FrameHeader.size else { return nil }
        // A header processInput let through: its length is within MaxMessageSize.
        return FrameHeader.size + FrameHeader(reading: connection.input.bytes).length
    }

    /// Where the next plain read goes: room for `readSize` bytes, but no more than the rest of a
    /// large frame (so that it ends alone in the buffer and becomes its event's body without a
    /// copy), and only a header while the connection is sending large frames (then the frame's
    /// buffer is made at its full size at once, not grown from `readChunk` by a copy, as far as
    /// `readAllowance` lets it); `readChunk` or more on a `closing` connection (the phase `read`
    /// already looked up). Nil when there is no memory for it.
    private func readSpace(_ connection: Connection, closing: Bool) -> UnsafeMutableRawBufferPointer? {
        // Closing at our request, what arrives is dropped: as much of it as comes at a time
        // (read a header at a time, a peer writing on after large frames took a CPU, 5 bytes
        // a read, until the linger ran out).
        if closing { return connection.input.writableSpace(minimum: IOThread.readChunk) }
        let waiting = connection.input.count
        var exact: Int?
        if let total = waitingFrameSize(connection) {
            if total >= IOThread.adoptSize { exact = min(total - waiting, readAllowance(connection)) }
            // A frame that grows its buffer fills the room it has before the buffer doubles
            // (asked for more than the room, the buffer doubled when half full: four times
            // the bytes received, and six while the old buffer was copied).
            let room = connection.input.room
            if let wanted = exact, room >= IOThread.readChunk && room < wanted { exact = room }
        } else if connection.helloReceived && connection.lastFrameSize >= IOThread.adoptSize {
            exact = FrameHeader.size - waiting
        }
        guard let space = connection.input.writableSpace(minimum: exact ?? readSize(connection)) else { return nil }
        guard let exact else { return space }
        return UnsafeMutableRawBufferPointer(rebasing: space[..<exact])
    }

    /// Reads what is waiting and acts on it. Plain connections read straight into their input;
    /// encrypted ones straight into their TLS engine, which decrypts into the input, except
    /// once they are closing after their handshake: then what the peer still sends is read
    /// into the input and dropped, as on a plain connection (the engine would keep it all: a
    /// peer writing on took 5 GB in the 10 s a close may wait).
    func read(_ connection: Connection) {
        if connection.writingOutAfterEnd {
            // Not reading any more: only POLLERR or POLLHUP brings it here, the peer is gone.
            finish(connection, reason: "closed")
            return
        }
        let n: Int?
        let closing = connection.currentPhase == .closing
        if connection.readPaused && !closing {
            // Paused, a whole message waits in the input for room in the ring: nothing is read
            // now. POLLHUP or POLLERR brought us here (no events mask turns them off); out of
            // poll(2) until reading resumes (`resumeReading`), or they would wake it at every
            // poll. Reading on killed the host: the room asked for the rest of a large message
            // came out negative when more than that message was in (a trap, SIGILL), and a
            // read of 0 bytes, when exactly that message was in, returned 0, taken for the
            // peer's end ("closed by peer": a reset, and what the kernel held, lost).
            pollSet.suspend(at: connection.pollIndex)
            return
        }
        do throws(SystemError) {
            if let tls = connection.tls, !closing || !connection.lock.withLock({ tls.isHandshakeComplete }) {
                n = try connection.lock.withLock { () throws(SystemError) -> Int? in
                    try tls.receive(minimum: IOThread.readChunk) { space throws(SystemError) in
                        try Posix.read(connection.fd, into: space)
                    }
                }
                if n == nil && connection.lock.withLock({ tls.hasFailed }) {
                    // The engine reads no more (it had no memory): fail the connection now,
                    // rather than be woken for the same waiting bytes until it times out.
                    _ = decrypt(connection)
                    return
                }
            } else {
                guard let space = readSpace(connection, closing: closing) else { return failForMemory(connection) }
                n = try Posix.read(connection.fd, into: space)
            }
        } catch {
            if connection.currentPhase == .closing {
                finish(connection, reason: error.reason)
            } else {
                let reason = error.errno == ECONNRESET ? "connection reset by peer" : "read failed: \(error.reason)"
                endOfStream(connection, StreamEnd(reason: reason, isError: true))
            }
            return
        }
        guard let n else { return }
        if connection.currentPhase == .closing {
            // Closing at our request: what the peer still sends is not wanted. Except on an
            // encrypted connection closed before its TLS handshake completed: the peer's
            // handshake records must still go into the session, or the hello and the messages
            // sent before the close (waiting in plainQueue for the handshake) would never be
            // encrypted and written, and the connection would just die after the linger time.
            // decrypt flushes them once the handshake completes; the plaintext is dropped.
            if n > 0, let tls = connection.tls, !connection.lock.withLock({ tls.isHandshakeComplete }) {
                _ = decrypt(connection)
                connection.input.release()
                return
            }
            if n == 0 {
                // The peer's end while this side still writes what was sent before its close:
                // the peer may read on (a half-close), so the rest goes out first.
                if hasUnsent(connection) { writeOutAfterEnd(connection) } else { finish(connection, reason: "closed") }
            } else {
                connection.input.release()
            }
            return
        }
        if n == 0 {
            if let failure = connection.lock.withLock({ connection.writeFailure }) {
                // A write met the peer's reset and took the socket's error: what was sent
                // after the peer stopped reading was lost, which a plain end would hide.
                endOfStream(connection, StreamEnd(reason: failure, isError: true))
                return
            }
            if let tls = connection.tls, let lost = connection.lock.withLock({ tls.truncation }) {
                endOfStream(connection, StreamEnd(reason: lost, isError: true))
                return
            }
            endOfStream(connection, StreamEnd(reason: "closed by peer", isError: false))
            return
        }
        connection.lastReceived = Clock.monotonic()
        connection.lock.withLock { connection.counters.bytesReceived += n }
        if connection.tls != nil {
            guard decrypt(connection) else { return }
        } else {
            connection.input.didWrite(n)
        }
        processInput(connection)
    }
}
