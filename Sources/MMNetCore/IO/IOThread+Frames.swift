// The I/O thread's reading of a connection's bytes: the peer's hello, then frames; each
// message validated and queued as an EVENT_RECEIVE, each control frame answered.
//
// Thread: I/O thread only.

extension IOThread {
    /// Consumes what it can of the connection's input: the hello, then whole frames, until the
    /// input runs out, the connection fails, or the event ring refuses (`QueueFull = "wait"`).
    func processInput(_ connection: Connection) {
        // Closing at our request: nothing more is delivered, and a hello arriving now (e.g.
        // decrypted while an encrypted close finishes its handshake) must not open it.
        guard connection.currentPhase < .closing else { return }
        if !connection.helloReceived {
            guard connection.input.count >= Hello.size else { return }
            if let problem = Hello.problem(with: connection.input.bytes, encrypted: connection.tls != nil) {
                fail(connection, problem)
                return
            }
            connection.input.consume(Hello.size)
            connection.helloReceived = true
            open(connection)
        }
        let settings = connection.context.settings
        let limits = settings.codecLimits
        while connection.currentPhase == .open && !connection.readPaused && connection.input.count >= FrameHeader.size {
            let header = FrameHeader(reading: connection.input.bytes)
            switch FrameType(rawValue: header.type) {
            case .message:
                if header.length > settings.maxMessageSize {
                    connection.context.countRefusedMessage()
                    fail(connection, "message of \(header.length) bytes is over MaxMessageSize (\(settings.maxMessageSize))")
                    return
                }
            case .ping, .pong:
                if header.length != 8 {
                    fail(connection, "control frame of \(header.length) bytes (expected 8)")
                    return
                }
            case nil:
                fail(connection, "unknown frame type \(header.type)")
                return
            }
            let total = FrameHeader.size + header.length
            guard connection.input.count >= total else { return }
            let body = UnsafeRawBufferPointer(rebasing: connection.input.bytes[FrameHeader.size..<total])
            if header.type == FrameType.ping.rawValue {
                connection.sendControl(Ping.frame(.pong, echoing: body))
            } else if header.type == FrameType.pong.rawValue {
                let sample = Ping.roundTrip(of: body, now: Clock.monotonic())
                connection.lock.withLock { connection.counters.record(rtt: sample) }
            } else if header.type == FrameType.message.rawValue {
                if let error = MessagePackValidator.validate(body, limits: limits) {
                    connection.context.countRefusedMessage()
                    fail(connection, "malformed message: \(error.message)")
                    return
                }
                let event = Event(.receive, source: connection, payload: Array(body))
                if !report(event, policy: settings.queueFull, refusable: true) {
                    connection.readPaused = true
                    updateInterest(connection)
                    return
                }
                connection.lock.withLock { connection.counters.messagesReceived += 1 }
            }
            connection.input.consume(total)
        }
    }
}
