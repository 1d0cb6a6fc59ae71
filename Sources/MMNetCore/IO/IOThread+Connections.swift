// The I/O thread's work on connections: connect completion, reading, writing, closing, and
// turning each of those into events.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
    /// Bytes asked of the kernel per read, at least.
    static let readChunk = 64 * 1024
    /// Most iovecs per writev.
    static let writeBatch = 64

    /// Starts polling a connection the I/O thread did not have yet.
    func adopt(_ connection: Connection) {
        connections[connection.id] = connection
        timed[connection.id] = connection
        connection.pollIndex = pollSet.add(fd: connection.fd, events: 0, owner: .connection(connection))
        updateInterest(connection)
    }

    /// Polls for what the connection can use now: writability while connecting or while bytes
    /// wait; readability unless reading is paused.
    func updateInterest(_ connection: Connection) {
        guard connection.pollIndex >= 0 else { return }
        let phase = connection.currentPhase
        var events: Int16 = 0
        if phase == .connecting {
            events = Int16(POLLOUT)
        } else {
            if !connection.readPaused { events |= Int16(POLLIN) }
            if connection.lock.withLock({ !connection.outQueue.isEmpty }) { events |= Int16(POLLOUT) }
        }
        pollSet.setEvents(events, at: connection.pollIndex)
    }

    /// Handles what poll(2) reported for a connection.
    func serve(_ connection: Connection, revents: Int16) {
        if connection.currentPhase == .connecting {
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
        connection.enter(.hello)
        updateInterest(connection)
        flush(connection)
    }

    /// Writes what the connection has queued, as far as the socket takes it.
    func flush(_ connection: Connection) {
        let phase = connection.currentPhase
        guard phase != .connecting && phase != .closed else { return }
        let outcome: Result<(drained: Bool, wrote: Bool), SystemError> = connection.lock.withLock {
            let queued = connection.queuedBytes
            do {
                let drained = try writeQueued(connection)
                return .success((drained, connection.queuedBytes < queued))
            } catch let error as SystemError {
                return .failure(error)
            } catch {
                return .failure(SystemError("sendmsg", errno: EIO))
            }
        }
        switch outcome {
        case .failure(let error):
            fail(connection, "write failed: \(error.reason)")
        case .success(let result):
            if result.wrote && phase == .closing {
                // The linger (and the allowance of a stopping thread) counts from the last
                // progress, not from the close: a peer that keeps reading gets everything Send
                // accepted, however slowly (PROTOCOL.md, "Closing"); one that stops reading is
                // cut off 2 s later. (Counted from the close, a reader slower than 2 s lost the
                // rest of the queue and got a reset: spec/closing_slow_spec.lua.)
                connection.deadline = Clock.monotonic() + IOThread.lingerTime
                extendStopDeadline()
            }
            if result.drained && phase == .closing {
                Posix.shutdownWrite(connection.fd)
            }
            updateInterest(connection)
        }
    }

    /// Writes the queue with writev until it is empty or the socket is full (under the
    /// connection's lock). Returns true when the queue is empty.
    private func writeQueued(_ connection: Connection) throws -> Bool {
        while !connection.outQueue.isEmpty {
            let written: Int? = try withUnsafeTemporaryAllocation(of: iovec.self, capacity: IOThread.writeBatch) { iov in
                var count = 0
                var offset = connection.outOffset
                for frame in connection.outQueue.prefix(IOThread.writeBatch) {
                    frame.withUnsafeBytes { bytes in
                        iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + offset),
                                           iov_len: bytes.count - offset)
                    }
                    offset = 0
                    count += 1
                }
                return try Posix.writev(connection.fd, iov.baseAddress!, count: Int32(count))
            }
            guard var n = written else { return false }
            connection.queuedBytes -= n
            connection.counters.bytesSent += n
            while n > 0 {
                let left = connection.outQueue[0].count - connection.outOffset
                if n >= left {
                    n -= left
                    connection.outQueue.removeFirst()
                    connection.outOffset = 0
                } else {
                    connection.outOffset += n
                    n = 0
                }
            }
        }
        connection.flushScheduled = false
        return true
    }

    /// Reads what is waiting and acts on it.
    private func read(_ connection: Connection) {
        var minimum = IOThread.readChunk
        if connection.helloReceived && connection.input.count >= FrameHeader.size {
            // A header processInput let through: its length is within MaxMessageSize.
            let header = FrameHeader(reading: connection.input.bytes)
            minimum = max(minimum, FrameHeader.size + header.length - connection.input.count)
        }
        let space = connection.input.writableSpace(minimum: minimum)
        let n: Int?
        do {
            n = try Posix.read(connection.fd, into: space)
        } catch let error as SystemError {
            if connection.currentPhase == .closing {
                finish(connection, reason: error.reason)
            } else {
                fail(connection, error.errno == ECONNRESET ? "connection reset by peer" : "read failed: \(error.reason)")
            }
            return
        } catch {
            return
        }
        guard let n else { return }
        if connection.currentPhase == .closing {
            // Closing at our request: what the peer still sends is not wanted.
            if n == 0 { finish(connection, reason: "closed") } else { connection.input.release() }
            return
        }
        if n == 0 {
            processInput(connection)
            if connection.currentPhase < .closing { peerClosed(connection) }
            return
        }
        connection.input.didWrite(n)
        connection.lastReceived = Clock.monotonic()
        connection.lock.withLock { connection.counters.bytesReceived += n }
        processInput(connection)
    }

    /// The peer closed its side cleanly.
    private func peerClosed(_ connection: Connection) {
        let phase = connection.currentPhase
        if phase < .open {
            fail(connection, "peer closed the connection during the hello")
            return
        }
        if connection.input.count > 0 || connection.readPaused {
            if connection.readPaused { return }  // delivered once the script polls
            fail(connection, "peer closed the connection in the middle of a message")
            return
        }
        let kind: EventKind = connection.role == .client ? .serverClose : .clientClose
        connection.listener?.remove(connection)
        report(Event(kind, source: connection, message: "closed by peer"), policy: connection.context.settings.queueFull)
        finish(connection, reason: "closed by peer")
    }

    /// The hello is done: the connection carries messages from now on.
    func open(_ connection: Connection) {
        timed.removeValue(forKey: connection.id)
        connection.lastReceived = Clock.monotonic()
        connection.lastPing = connection.lastReceived
        connection.deadline = .infinity
        connection.enter(.open)
        connection.countedOpen = true
        connection.context.countConnection(1)
        let policy = connection.context.settings.queueFull
        if let listener = connection.listener {
            guard listener.add(connection) else {
                finish(connection, reason: "server closed")
                return
            }
            report(Event(.connect, source: connection, message: "connection from \(connection.peer.description)"), policy: policy)
        } else {
            report(Event(.connected, source: connection, message: "connected to \(connection.peer.description)", result: true), policy: policy)
        }
        updateInterest(connection)
    }

    /// Something went wrong: report it as the phase calls for, then close at once. An open
    /// connection gets an EVENT_ERROR (unless `asError` is false: a timeout is not a protocol
    /// error) and then its close event, both with `reason`.
    func fail(_ connection: Connection, _ reason: String, asError: Bool = true) {
        let phase = connection.currentPhase
        let policy = connection.context.settings.queueFull
        switch phase {
        case .connecting, .hello:
            if let listener = connection.listener {
                report(Event(.error, source: listener, message: "\(connection.peer.description): \(reason)"), policy: policy)
            } else {
                report(Event(.connected, source: connection, message: reason, result: false), policy: policy)
            }
        case .open:
            connection.listener?.remove(connection)
            if asError { report(Event(.error, source: connection, message: reason), policy: policy) }
            let kind: EventKind = connection.role == .client ? .serverClose : .clientClose
            report(Event(kind, source: connection, message: reason), policy: policy)
        case .closing, .closed:
            break
        }
        finish(connection, reason: reason)
    }

    /// A close this side asked for: flush, then shut down writing and wait for the peer's end.
    func beginClosing(_ connection: Connection) {
        guard connection.pollIndex >= 0 else { return }
        if !connection.tcpConnected {
            finish(connection, reason: "closed")
            return
        }
        connection.readPaused = false
        connection.input.release()
        connection.deadline = Clock.monotonic() + IOThread.lingerTime
        timed[connection.id] = connection
        flush(connection)
    }

    /// A deadline passed: the hello took too long, or the closing linger is over.
    func expire(_ connection: Connection) {
        switch connection.currentPhase {
        case .connecting:
            fail(connection, "connect to \(connection.peer.description) timed out after \(IOThread.seconds(connection.context.settings.helloTimeout))")
        case .hello:
            fail(connection, "no hello from peer within \(IOThread.seconds(connection.context.settings.helloTimeout))")
        default:
            finish(connection, reason: "closed")
        }
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
            connection.queuedBytes = 0
        }
        connection.enter(.closed, reason: reason)
        Posix.close(connection.fd)
        connection.context.events.poke()
    }

    /// Reads again from a state's connections that a full ring had paused.
    func resumeReading(_ context: ScriptContext) {
        for connection in connections.values where connection.context === context && connection.readPaused {
            connection.readPaused = false
            processInput(connection)
            updateInterest(connection)
        }
    }

    /// "5 s", "0.5 s": a setting in seconds, for messages.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
