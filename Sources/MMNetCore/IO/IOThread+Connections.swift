// The I/O thread's work on connections: connect completion, reading, writing, closing, and
// turning each of those into events.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
    /// Bytes asked of the kernel per read, at least.
    static let readChunk = 64 * 1024
    /// Most iovecs per writev.
    static let writeBatch = 1024
    /// Frames at least this long (header included) that are alone in the read buffer become
    /// their event's body without a copy (`ReadBuffer.takeAll`).
    static let adoptSize = 64 * 1024

    /// Starts polling a connection the I/O thread did not have yet.
    func adopt(_ connection: Connection) {
        connections[connection.id] = connection
        timed[connection.id] = connection
        connection.pollIndex = pollSet.add(fd: connection.fd, events: 0, owner: .connection(connection))
        updateInterest(connection)
        if connection.role == .client && connection.tcpConnected && connection.tls != nil {
            startHandshake(connection)  // the connect completed at once: no writability to wait for
        }
    }

    /// Polls for what the connection can use now: writability while connecting or while bytes
    /// wait; readability unless reading is paused.
    func updateInterest(_ connection: Connection) {
        guard connection.pollIndex >= 0 else { return }
        if connection.pendingEnd != nil {
            // The stream is over; only the script's polling matters now. A broken socket would
            // report POLLERR/POLLHUP on every poll: leave it out until the close is reported.
            pollSet.suspend(at: connection.pollIndex)
            return
        }
        var events: Int16 = 0
        if !connection.tcpConnected {
            events = Int16(POLLOUT)
        } else {
            // Not after the peer's end either: its end of stream would be readable at every poll.
            if !connection.readPaused && !connection.writingOutAfterEnd { events |= Int16(POLLIN) }
            // Not while a burst gathers (`flushDeferred`): its timer writes it.
            let wantsWrite = connection.lock.withLock {
                !connection.outQueue.isEmpty && !connection.writeShut && !connection.flushDeferred
            }
            if wantsWrite { events |= Int16(POLLOUT) }  // ciphertext or plain bytes
        }
        pollSet.setEvents(events, at: connection.pollIndex)
    }

    /// Handles what poll(2) reported for a connection.
    func serve(_ connection: Connection, revents: Int16) {
        if !connection.tcpConnected {
            finishConnect(connection)
            return
        }
        if revents & Int16(POLLOUT) != 0 {
            flush(connection)
        }
        if connection.pollIndex >= 0 && revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            read(connection)
        }
    }

    /// The non-blocking connect finished: start the hello, or report the failure.
    private func finishConnect(_ connection: Connection) {
        let error = (try? Posix.pendingError(connection.fd)) ?? EIO
        if error != 0 {
            fail(connection, "connect to \(connection.peer.description): \(SystemError("connect", errno: error).reason)")
            return
        }
        connection.tcpConnected = true
        // Not when Disconnect came while connecting: then it stays closing, and the flush below
        // (or the TLS handshake) sends what was queued before the close.
        _ = connection.advance(from: .connecting, to: .hello)
        updateInterest(connection)
        if connection.tls != nil {
            startHandshake(connection)
        } else {
            flush(connection)
        }
    }

    /// Writes what the connection has queued, as far as the socket takes it (encrypting the
    /// plaintext waiting first, on encrypted connections).
    func flush(_ connection: Connection) {
        let phase = connection.currentPhase
        guard connection.tcpConnected && (phase != .closed || connection.writingOutAfterEnd) else { return }
        switch writeQueue(of: connection) {
        case .broken where phase == .open:
            // The peer is gone, but what it sent before may still be waiting to be read:
            // stop writing, and read on until the stream ends; the read that meets the end
            // reports the close (the kernel returns the queued data before the error). On an
            // encrypted connection too: only the socket failed, not the TLS session, which
            // still decrypts what arrived.
            connection.lock.withLock {
                connection.writeShut = true
                connection.outQueue.removeAll()
                connection.plainQueue.removeAll()
                connection.queuedBytes = 0
            }
            updateInterest(connection)
        case .broken(let reason), .failed(let reason):
            fail(connection, reason)
        case .written(let drained, let progress):
            let ending = phase == .closing || connection.writingOutAfterEnd
            if ending && progress {
                // A closing connection waits as long as its peer keeps taking what was sent;
                // it is given up only after `lingerTime` without progress.
                connection.deadline = Clock.monotonic() + IOThread.lingerTime
                madeClosingProgress()
            }
            if drained && ending && connection.lock.withLock({ connection.plainQueue.isEmpty }) {
                if connection.writingOutAfterEnd {
                    finish(connection, reason: "closed")  // the peer's end came: the FIN follows the last byte
                    return
                }
                Posix.shutdownWrite(connection.fd)  // then the peer's end is awaited
            }
            updateInterest(connection)
        case .deferred:
            scheduleSoonFlush(connection)
            updateInterest(connection)
        }
    }

    /// Writes the queue until it is empty or the socket is full. The queue is taken under the
    /// connection's lock and written without it, so the script's sends meanwhile append behind
    /// it instead of waiting for the system call (and the frees of the frames written); what
    /// the socket did not take goes back in front of them. Repeats while the socket takes all
    /// and more was queued; but when what was queued during a write is a burst still short of
    /// `Connection.coalesceBytes`, it gathers for `coalesceTime` first (`.deferred`), as the
    /// burst's start did: written at once, it would go out a few frames per system call.
    private func writeQueue(of connection: Connection) -> FlushOutcome {
        var progress = false
        while true {
            var batch: [ByteBlock] = []
            var offset = 0
            var deferred = false
            let problem: TLSError? = connection.lock.withLock {
                if let problem = connection.encryptPending() { return problem }
                if connection.outQueue.isEmpty {
                    connection.flushScheduled = false
                    connection.flushDeferred = false
                    connection.repliesQueued = 0
                } else if progress && connection.tls == nil && connection.phase == .open
                            && connection.queuedBytes < Connection.coalesceBytes {
                    connection.flushDeferred = true  // `enqueue` escalates once the burst is long
                    deferred = true
                } else {
                    (batch, offset) = connection.outQueue.takeAll()
                    connection.flushDeferred = false  // a partial write waits for POLLOUT
                    connection.writing = true
                }
                return nil
            }
            if let problem { return .failed(problem.message) }
            if deferred { return .deferred }
            if batch.isEmpty { return .written(drained: true, progress: progress) }
            let result = IOThread.writeFrames(connection.fd, batch, from: offset)
            let complete: Bool = connection.lock.withLock {
                connection.writing = false
                connection.queuedBytes -= result.bytes
                connection.counters.bytesSent += result.bytes
                guard result.done < batch.count else { return true }
                connection.outQueue.putBack(batch[result.done...], offset: result.offset)
                return false
            }
            if result.bytes > 0 { progress = true }
            if let error = result.error {
                // Worded as when a read meets the reset (it said "write failed: Connection reset
                // by peer" of a peer that reset during the hello).
                return .broken(error.errno == ECONNRESET ? "connection reset by peer" : "write failed: \(error.reason)")
            }
            if !complete { return .written(drained: false, progress: progress) }
        }
    }

    /// Writes `frames` (the first from byte `offset`) with writev, up to `writeBatch` frames per
    /// call, as far as the socket takes them.
    /// - Returns: the bytes written, how many frames went whole, the bytes written of the next
    ///   one, and the error that stopped the writing, if any.
    static func writeFrames(_ fd: Int32, _ frames: [ByteBlock], from offset: Int)
        -> (bytes: Int, done: Int, offset: Int, error: SystemError?) {
        var total = 0
        var done = 0
        var offset = offset
        while done < frames.count {
            let written: Int?
            do throws(SystemError) {
                written = try withUnsafeTemporaryAllocation(of: iovec.self, capacity: IOThread.writeBatch) { iov throws(SystemError) in
                    var count = 0
                    var start = offset
                    for frame in frames[done...].prefix(IOThread.writeBatch) {
                        frame.withUnsafeBytes { bytes in
                            iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + start),
                                               iov_len: bytes.count - start)
                        }
                        start = 0
                        count += 1
                    }
                    return try Posix.writev(fd, iov.baseAddress!, count: Int32(count))
                }
            } catch {
                return (total, done, offset, error)
            }
            guard var n = written else { break }  // the socket is full
            total += n
            while n > 0 {
                let left = frames[done].count - offset
                if n >= left {
                    n -= left
                    done += 1
                    offset = 0
                } else {
                    offset += n
                    n = 0
                }
            }
        }
        return (total, done, offset, nil)
    }

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
        let frame = waitingFrameSize(connection).map { " for a message of \($0 - FrameHeader.size) bytes" } ?? ""
        fail(connection, "out of memory\(frame)")
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
    private func read(_ connection: Connection) {
        if connection.writingOutAfterEnd {
            // Not reading any more: only POLLERR or POLLHUP brings it here, the peer is gone.
            finish(connection, reason: "closed")
            return
        }
        let n: Int?
        let closing = connection.currentPhase == .closing
        do {
            if let tls = connection.tls, !closing || !connection.lock.withLock({ tls.isHandshakeComplete }) {
                n = try connection.lock.withLock {
                    try tls.receive(minimum: IOThread.readChunk) { space in
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
        } catch let error as SystemError {
            if connection.currentPhase == .closing {
                finish(connection, reason: error.reason)
            } else {
                let reason = error.errno == ECONNRESET ? "connection reset by peer" : "read failed: \(error.reason)"
                endOfStream(connection, StreamEnd(reason: reason, isError: true))
            }
            return
        } catch {
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

    /// The peer's stream ended: cleanly (a TCP FIN, a TLS close_notify) or not (a reset).
    /// The complete frames that arrived before are delivered first, and when reading is paused
    /// (the ring is full) the close waits until the script has made room for all of them.
    func endOfStream(_ connection: Connection, _ end: StreamEnd) {
        processInput(connection)
        guard connection.currentPhase < .closing else { return }
        if connection.currentPhase == .open && connection.readPaused {
            connection.pendingEnd = end
            updateInterest(connection)
            return
        }
        reportEnd(connection, end)
    }

    /// Reports how the peer's stream ended, with the events of the phase, and closes.
    func reportEnd(_ connection: Connection, _ end: StreamEnd) {
        if connection.currentPhase < .open {
            fail(connection, end.isError ? end.reason : "peer closed the connection during the hello")
        } else if end.isError {
            fail(connection, end.reason)
        } else if connection.input.count > 0 {
            fail(connection, "peer closed the connection in the middle of a message")
        } else {
            let kind: EventKind = connection.role == .client ? .serverClose : .clientClose
            connection.listener?.remove(connection)
            report(Event(kind, source: connection, message: end.reason), policy: connection.context.settings.queueFull) {
                connection.enter(.closed, reason: end.reason)  // with the event, as in `fail`
            }
            if hasUnsent(connection) { writeOutAfterEnd(connection) } else { finish(connection, reason: end.reason) }
        }
    }

    /// Whether bytes `Send` accepted still wait to be written (and can be: writing has not failed).
    private func hasUnsent(_ connection: Connection) -> Bool {
        connection.lock.withLock {
            !connection.writeShut && !(connection.outQueue.isEmpty && connection.plainQueue.isEmpty)
        }
    }

    /// The peer ended its stream cleanly (a FIN, a TLS close_notify) with messages `Send` had
    /// accepted still queued, whether or not this side was closing too: it may have closed only
    /// its own direction and still read (a request-reply peer that half-closes after its last
    /// request), so they are written out, for as long as the peer takes them (given up after
    /// `lingerTime` without progress, as a close of this side's), and the socket closes after
    /// the last byte. Before, they were dropped: such a peer got 6 of its 20 replies.
    func writeOutAfterEnd(_ connection: Connection) {
        connection.writingOutAfterEnd = true
        startLinger(connection)
    }

    /// The hello is done: the connection carries messages from now on. Unless the script's
    /// Disconnect came during the hello: it stays closing (the linger and the flush of what
    /// was sent go on) and reports no opening.
    func open(_ connection: Connection) {
        guard connection.advance(from: .hello, to: .open) else { return }
        timed.removeValue(forKey: connection.id)
        connection.lastReceived = Clock.monotonic()
        connection.lastPing = connection.lastReceived
        let settings = connection.context.settings
        connection.peerTimeoutApplied = settings.peerTimeout
        // Its first ping must not wait for a sweep planned for longer PingIntervals.
        if settings.pingInterval > 0 { nextSweep = min(nextSweep, connection.lastReceived + settings.pingInterval) }
        connection.deadline = .infinity
        connection.countedOpen = true
        connection.context.countConnection(1)
        let policy = settings.queueFull
        if let listener = connection.listener {
            guard listener.add(connection) else {
                finish(connection, reason: "server closed")
                return
            }
            report(Event(.connect, source: connection, message: "connection from \(connection.peer.description)"), policy: policy)
        } else {
            report(Event(.connected, source: connection, message: "connected to \(connection.peer.description)", result: true),
                   policy: policy, alongside: connection.noteConnectedReported)
        }
        updateInterest(connection)
    }

    /// Something went wrong: report it as the phase calls for, then close at once. An open
    /// connection gets an EVENT_ERROR (unless `asError` is false: a timeout is not a protocol
    /// error) and then its close event, both with `reason`. The first event reported makes it
    /// `.closed` in the same step (`report`'s `alongside`): a script that calls the object as
    /// soon as it has the event finds it closed (`Send` false, `GetSocket` nil), not open until
    /// `finish` (before: `Send` true, the message lost), and a `WaitForConnect` that sees the
    /// failure finds its EVENT_CONNECTED queued.
    func fail(_ connection: Connection, _ reason: String, asError: Bool = true) {
        let phase = connection.currentPhase
        let policy = connection.context.settings.queueFull
        let close = { connection.enter(.closed, reason: reason) }
        switch phase {
        case .connecting, .hello:
            if let listener = connection.listener {
                report(Event(.error, source: listener, message: "\(connection.peer.description): \(reason)"), policy: policy,
                       alongside: close)
            } else {
                report(Event(.connected, source: connection, message: reason, result: false), policy: policy, alongside: close)
            }
        case .open:
            connection.listener?.remove(connection)
            if asError { report(Event(.error, source: connection, message: reason), policy: policy, alongside: close) }
            let kind: EventKind = connection.role == .client ? .serverClose : .clientClose
            report(Event(kind, source: connection, message: reason), policy: policy, alongside: close)
        case .closing, .closed:
            break
        }
        finish(connection, reason: reason)
    }

    /// A close this side asked for: flush, then shut down writing and wait for the peer's end.
    func beginClosing(_ connection: Connection) {
        guard connection.pollIndex >= 0 else { return }
        if !connection.tcpConnected && connection.lock.withLock({ connection.counters.messagesSent == 0 }) {
            finish(connection, reason: "closed")  // still connecting, and nothing to deliver
            return
        }
        // Still connecting with messages queued: finishConnect (then the TLS handshake, on
        // encrypted connections) goes on, and they go out before the close, within the linger.
        connection.readPaused = false
        // A stream that ended while reading was paused: read to its end again (at once), as a
        // closing connection does, rather than stay out of the poll set for the whole linger.
        startLinger(connection)
    }

    /// Writes out what `connection` has queued, forgetting what it read and any end held back,
    /// until the queue is written or `lingerTime` passes without progress (`expire`).
    private func startLinger(_ connection: Connection) {
        connection.pendingEnd = nil
        connection.input.release()
        connection.deadline = Clock.monotonic() + IOThread.lingerTime
        timed[connection.id] = connection
        flush(connection)
    }

    /// A deadline passed: the hello took too long, or the closing linger is over.
    func expire(_ connection: Connection) {
        switch connection.currentPhase {
        case .connecting:
            fail(connection, "connect to \(connection.peer.description) timed out after \(IOThread.seconds(connection.helloTimeout))")
        case .hello:
            // An encrypted connection's hello comes after its TLS handshake: say which is missing.
            let handshaking = connection.tls.map { tls in !connection.lock.withLock { tls.isHandshakeComplete } } ?? false
            fail(connection, "no \(handshaking ? "TLS handshake" : "hello") from peer within \(IOThread.seconds(connection.helloTimeout))")
        default:
            abandon(connection, reason: "closed")
        }
    }

    /// Gives up on a closing connection whose peer took nothing for the whole linger (or
    /// whose library is stopping): what is still queued will never reach the peer, so the
    /// socket is reset rather than ended with a FIN. A FIN after the last whole message would
    /// tell the peer the stream was complete ("closed by peer", the rest missing without a
    /// word); a reset is reported there as an error, after every message that did arrive.
    /// With nothing left in the queues, the FIN goes after what the kernel still holds.
    func abandon(_ connection: Connection, reason: String) {
        if hasUnsent(connection) { Posix.resetOnClose(connection.fd) }
        finish(connection, reason: reason)
    }

    /// Closes the socket and forgets the connection.
    func finish(_ connection: Connection, reason: String) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        timed.removeValue(forKey: connection.id)
        if connection.countedOpen {
            connection.countedOpen = false
            connection.context.countConnection(-1)
        }
        connection.listener?.remove(connection)
        pollSet.remove(at: connection.pollIndex)
        connection.pollIndex = -1
        connection.input.release()
        connection.lock.withLock {
            connection.outQueue.removeAll()
            connection.plainQueue.removeAll()
            connection.queuedBytes = 0
        }
        connection.enter(.closed, reason: reason)
        Posix.close(connection.fd)
        connection.context.events.poke()
    }

    /// Reads again from a state's connections that a full ring had paused, and accepts again
    /// on its listeners.
    func resumeReading(_ context: ScriptContext) {
        for listener in listeners.values where listener.context === context && listener.acceptHeld {
            listener.acceptHeld = false
            if pausedListeners[listener.id] == nil { pollSet.setEvents(Int16(POLLIN), at: listener.pollIndex) }
        }
        for connection in connections.values where connection.context === context && connection.readPaused {
            connection.readPaused = false
            processInput(connection)
            if let end = connection.pendingEnd, !connection.readPaused {
                connection.pendingEnd = nil
                reportEnd(connection, end)
            } else {
                updateInterest(connection)
            }
        }
    }

    /// "5 s", "0.5 s": a setting in seconds, for messages.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// How a flush ended.
private enum FlushOutcome {
    /// Written as far as the socket took it: all of it (`drained`) or not; `progress`: some.
    case written(drained: Bool, progress: Bool)
    /// Some was written; the rest is a burst that gathers for `coalesceTime` before it is.
    case deferred
    /// Writing to the socket failed (the peer is gone), for this reason.
    case broken(String)
    /// Encrypting failed, for this reason.
    case failed(String)
}
