// The I/O thread's work on connections: taking them over, polling for what they can use,
// connect completion, the end of the peer's stream, opening, failing and closing, and turning
// each of those into events. Reading is `IOThread+Reading.swift`, writing
// `IOThread+Writing.swift`.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
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
            if !connection.readPaused && !connection.writingOutAfterEnd { events |= Int16(POLLIN) | Posix.pollPeerEnd }
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
        if connection.pollIndex >= 0 && revents & (Int16(POLLIN | POLLHUP | POLLERR) | Posix.pollPeerEnd) != 0 {
            // The peer's end is behind what is waiting: its pings are answered no more, since
            // an answer would meet the reset of a peer that has closed (the first write to it
            // draws the reset, the next fails). A process woken from a stop longer than its
            // peer's PeerTimeout answered the pings it read, one write each, and only then read
            // the end: "write failed: Broken pipe", an EVENT_ERROR, where nothing it sent was
            // lost.
            if revents & Posix.pollPeerEnd != 0 { connection.peerEndSeen = true }
            read(connection)
        }
    }

    /// The non-blocking connect finished: start the hello, or report the failure.
    private func finishConnect(_ connection: Connection) {
        var error = (try? Posix.pendingError(connection.fd)) ?? EIO
        if error == 0 && Posix.isConnectedToItself(connection.fd) { error = ECONNREFUSED }
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
            var reported = false
            report(Event(kind, source: connection, message: end.reason), admit: {
                reported = connection.closeUnlessClosing(reason: end.reason)  // as in `fail`
                return reported
            })
            // The script's Disconnect came first: its close goes on (`beginClosing`), writing
            // out what was sent, and meets this end again.
            guard reported else { return }
            if hasUnsent(connection) || needsCloseNotify(connection) {
                writeOutAfterEnd(connection)
            } else {
                finish(connection, reason: end.reason)
            }
        }
    }

    /// Whether an encrypted connection has yet to send its close_notify, which tells a TLS peer
    /// that the stream is complete. Without it, a peer that half-closed could not tell the
    /// last of its replies from a stream cut short (OpenSSL reports "unexpected eof").
    private func needsCloseNotify(_ connection: Connection) -> Bool {
        connection.lock.withLock { connection.tls != nil && !connection.tlsClosed && !connection.writeShut }
    }

    /// Whether bytes `Send` accepted still wait to be written (and can be: writing has not failed).
    func hasUnsent(_ connection: Connection) -> Bool {
        connection.lock.withLock {
            !connection.writeShut && !(connection.outQueue.isEmpty && connection.plainQueue.isEmpty)
        }
    }

    /// The peer ended its stream cleanly (a FIN, a TLS close_notify) with messages `Send` had
    /// accepted still queued (or, encrypted, this side's close_notify still to send), whether
    /// or not this side was closing too: it may have closed only
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
        if let listener = connection.listener {
            guard listener.add(connection) else {
                finish(connection, reason: "server closed")
                return
            }
            // Not once the server's close has closed it (its script dropped the server).
            report(Event(.connect, source: connection, message: "connection from \(connection.peer.description)"),
                   admit: { connection.currentPhase == .open })
        } else {
            report(Event(.connected, source: connection, message: "connected to \(connection.peer.description)", result: true),
                   admit: connection.noteConnectedReportedIfOpen)
        }
        updateInterest(connection)
    }

    /// Something went wrong: report it as the phase calls for, then close at once. An open
    /// connection gets an EVENT_ERROR (unless `asError` is false: a timeout is not a protocol
    /// error) and then its close event, both with `reason`. The first event reported makes it
    /// `.closed` in the same step (`report`'s `admit`): a script that calls the object as
    /// soon as it has the event finds it closed (`Send` false, `GetSocket` nil), not open until
    /// `finish` (before: `Send` true, the message lost), and a `WaitForConnect` that sees the
    /// failure finds its EVENT_CONNECTED queued. Unless the script's Disconnect came first:
    /// then no event of the connection follows it (one could, when the two crossed). Messages
    /// still queued are given up with a reset (`abandon`).
    func fail(_ connection: Connection, _ reason: String, asError: Bool = true) {
        let phase = connection.currentPhase
        let close = { connection.closeUnlessClosing(reason: reason) }
        switch phase {
        case .connecting, .hello:
            if let listener = connection.listener {
                // About the server, which the script holds, not about the connection.
                report(Event(.error, source: listener, message: "\(connection.peer.description): \(reason)"),
                       admit: { _ = close(); return true })
            } else {
                report(Event(.connected, source: connection, message: reason, result: false), admit: close)
            }
        case .open:
            connection.listener?.remove(connection)
            if asError { report(Event(.error, source: connection, message: reason), admit: close) }
            let kind: EventKind = connection.role == .client ? .serverClose : .clientClose
            report(Event(kind, source: connection, message: reason), admit: close)
        case .closing, .closed:
            break
        }
        // A connection that never carried a message keeps its FIN (and the hello failures'
        // wording on both sides). A client's messages sent during its hello go out right
        // after it, and its peer may have opened and delivered some before this side failed
        // (its hello timed out): those are given up with a reset too.
        let carriedMessages = phase >= .open || connection.lock.withLock { connection.counters.messagesSent > 0 }
        if carriedMessages { abandon(connection, reason: reason) } else { finish(connection, reason: reason) }
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

    /// Gives up on a connection: a closing one whose peer took nothing for the whole linger
    /// (or whose library is stopping), or one that failed (`fail`: its peer timed out, broke
    /// the protocol, ...). What is still queued will never reach the peer, so the socket is
    /// reset rather than ended with a FIN. A FIN after the last whole message would tell the
    /// peer the stream was complete ("closed by peer", the rest missing without a word; a
    /// peer timed out while our messages waited behind its full window got just that); a
    /// reset is reported there as an error, after every message that did arrive. With nothing
    /// left in the queues, the FIN goes after what the kernel still holds (and, encrypted, a
    /// close_notify before it: `writeCloseNotify`), unless `reset` asks for a reset whatever is
    /// queued (`handleDropped`).
    func abandon(_ connection: Connection, reason: String, reset: Bool = false) {
        guard connection.pollIndex >= 0 else { return }  // finished already: its fd is gone
        if reset || hasUnsent(connection) { Posix.resetOnClose(connection.fd) } else { writeCloseNotify(connection) }
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
        connection.releaseEngine()
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
        // Not a closing one (the script's Disconnect crossed the resume): its close clears the
        // pause (`beginClosing`). Resumed, it found its input still held, took its held end for
        // one in the middle of a message, and was reset, the replies it was sent lost.
        let paused = connections.values.filter {
            $0.context === context && $0.readPaused && $0.currentPhase < .closing
        }
        // Each counts among the senders before any is served: the first one served would
        // otherwise take the whole ring again, and the others wait behind it once more.
        for connection in paused { context.events.join(&connection.share) }
        for connection in paused where connection.readPaused && connection.currentPhase < .closing {
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

    /// "5 s", "0.5 s": a setting in seconds, for messages (the binding's too, so that every
    /// message says a time the same way).
    public static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
