// The I/O thread's periodic sweep over open connections: pings due are sent, and peers silent
// for longer than PeerTimeout are declared gone.
//
// Thread: I/O thread only.

extension IOThread {
    /// Sends the pings that are due before the next sweep and closes the connections whose
    /// peer went silent, as of this turn's poll (`polledAt`).
    /// Returns the seconds until the next sweep: `Defaults.livenessSweep`, or the shortest
    /// PingInterval of an open connection when that is shorter (a sweep coarser than the
    /// interval would space the pings out past a short PeerTimeout and kill live peers).
    func sweepLiveness(now: Double) -> Double {
        var step = Defaults.livenessSweep
        for connection in connections.values where connection.currentPhase == .open {
            let settings = connection.context.settings
            if settings.pingInterval > 0 { step = min(step, settings.pingInterval) }
            if connection.readPaused {
                // Not reading (the event queue is full): silence is ours, not the peer's.
                connection.lastReceived = now
            } else if settings.peerTimeout != connection.peerTimeoutApplied {
                // PeerTimeout turned on or shortened: the silence is counted from now. The peer
                // had no reason to speak sooner (with pings off, an idle live connection was
                // declared dead at once), and gets a full PeerTimeout to answer our next ping,
                // which goes at once when the PingInterval was shortened too.
                if connection.peerTimeoutApplied == 0 || settings.peerTimeout < connection.peerTimeoutApplied {
                    connection.lastReceived = now
                }
                connection.peerTimeoutApplied = settings.peerTimeout
            } else if settings.peerTimeout > 0 && polledAt - connection.lastReceived > settings.peerTimeout {
                // Silent as of this turn's poll (`polledAt`), not as of now: what arrived since
                // is read at the next turn.
                let reason = "peer timed out after \(IOThread.seconds(settings.peerTimeout))"
                fail(connection, reason, asError: false)
                continue
            }
            // Due before the next sweep: sent now, a little early rather than up to a sweep late
            // (a PingInterval of 4.95 s went out at 5 s, after a PeerTimeout of 5 s had closed a
            // live peer).
            if settings.pingInterval > 0 && now - connection.lastPing >= settings.pingInterval - sweepStep {
                connection.lastPing = now
                // Not behind a full queue: a peer that stays alive and never reads would
                // otherwise grow it by a ping every interval, without end.
                connection.pongAwaited = connection.sendControl(Ping.frame(now: now), limit: settings.sendQueueLimit)
            }
        }
        sweepStep = step
        return step
    }
}
