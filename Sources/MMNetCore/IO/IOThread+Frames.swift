// The I/O thread's reading of a connection's bytes: the peer's hello, then frames; each
// message validated and queued as an EVENT_RECEIVE, each control frame answered.
//
// Thread: I/O thread only.

extension IOThread {
    /// Consumes what it can of the connection's input: the hello, then whole frames, until the
    /// input runs out, the connection fails, or the event ring refuses (`QueueFull = "wait"`).
    func processInput(_ connection: Connection) {
        if !connection.helloReceived {
            guard connection.input.count >= Hello.size else { return }
            if let problem = Hello.problem(with: connection.input.bytes, encrypted: false) {
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
            let type: FrameType
            let total: Int
            switch FrameParser.next(connection.input.bytes, maxMessageSize: settings.maxMessageSize) {
            case .needMore:
                return
            case .oversized(let length, let limit):
                connection.context.countRefusedMessage()
                fail(connection, "message of \(length) bytes is over MaxMessageSize (\(limit))")
                return
            case .refused(let reason):
                fail(connection, reason)
                return
            case .frame(let frameType, let bodyLength):
                type = frameType
                total = FrameHeader.size + bodyLength
            }
            let body = UnsafeRawBufferPointer(rebasing: connection.input.bytes[FrameHeader.size..<total])
            switch type {
            case .ping:
                connection.sendControl(Ping.frame(.pong, echoing: body))
            case .pong:
                let sample = Ping.roundTrip(of: body, now: Clock.monotonic())
                connection.lock.withLock { connection.counters.record(rtt: sample) }
            case .message:
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
