// The I/O thread's work on listening sockets: accepting new connections.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
    /// Most connections accepted from one listener per poll round (fairness to the others).
    static let acceptBatch = 64
    /// Seconds accepting pauses after the process ran out of descriptors.
    static let acceptPause = 0.1

    /// The connections `listener` accepted that are still in their hello (an O(n) count of
    /// the connections with a deadline, made only in "wait" mode, once per accepting round).
    private func connectionsInHello(of listener: Listener) -> Int {
        timed.values.reduce(0) { $0 + ($1.listener === listener && $1.currentPhase == .hello ? 1 : 0) }
    }

    /// Starts polling a new listener.
    func startListening(_ listener: Listener) {
        listeners[listener.id] = listener
        listener.pollIndex = pollSet.add(fd: listener.fd, events: Int16(POLLIN), owner: .listener(listener))
    }

    /// Stops accepting, closes the socket, and drops the listener's connections still in hello.
    func stopListening(_ listener: Listener) {
        guard listeners.removeValue(forKey: listener.id) != nil else { return }
        pausedListeners.removeValue(forKey: listener.id)
        pollSet.remove(at: listener.pollIndex)
        listener.pollIndex = -1
        Posix.close(listener.fd)
        for connection in connections.values where connection.listener === listener && connection.currentPhase < .open {
            finish(connection, reason: "server closed")
        }
    }

    /// Accepts the connections waiting on `listener`; each starts its hello. In `QueueFull =
    /// "wait"` mode nothing is accepted while the state's event ring is full: new peers wait in
    /// the kernel's backlog until the script polls, as the data of connections does, instead of
    /// each adding a connect or error event the ring must take past its capacity (a churn of
    /// 20,000 bad hellos a second grew a stalled script's ring by 4 MB a second). The
    /// connections of the listener still in their hello count as the events they will add: a
    /// slow hello (a thread slowed by a sanitizer) let a second batch in before the first one's
    /// connects filled the ring.
    func accept(on listener: Listener) {
        // Closed by the script (its socket shut down, `Listener.close`); `.unlisten` follows.
        if listener.isClosed { return }
        let context = listener.context
        if context.settings.queueFull == .wait
            && context.events.holdBackIfFull(pending: connectionsInHello(of: listener)) {
            listener.acceptHeld = true
            pollSet.setEvents(0, at: listener.pollIndex)
            return
        }
        let timeout = context.settings.helloTimeout
        for _ in 0..<IOThread.acceptBatch {
            let accepted: (Int32, SocketAddress)?
            do throws(SystemError) {
                accepted = try Posix.accept(listener.fd)
            } catch {
                if error.errno != listener.failingAccept {
                    listener.failingAccept = error.errno
                    report(Event(.error, source: listener, message: "\(error)"))
                }
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    listener.pausedUntil = Clock.monotonic() + IOThread.acceptPause
                    pausedListeners[listener.id] = listener
                    pollSet.setEvents(0, at: listener.pollIndex)
                }
                return
            }
            guard let (fd, peer) = accepted else { return }
            listener.failingAccept = 0
            Socket.configure(fd)
            let tls: TLSSession?
            do {
                tls = try listener.tlsContext.map { context throws(TLSError) in try TLSSession(context: context) }
            } catch {
                Posix.close(fd)
                report(Event(.error, source: listener, message: "\(peer.description): \(error.message)"))
                continue
            }
            let connection = Connection(fd: fd, peer: peer, role: .accepted, listener: listener,
                                        context: listener.context, io: self, connected: true, tls: tls)
            connection.startHello(timeout: timeout)
            adopt(connection)
        }
    }
}
