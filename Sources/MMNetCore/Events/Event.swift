// One event on its way from the I/O thread to a script.
//
// Thread: created on the I/O thread (passed through `EventRing`), or on the Lua thread for the
// errors `PollEvents` reports itself; consumed on the Lua thread.

/// Something that happened to a server, client or client connection.
public struct Event: Sendable {
    /// The event code.
    public var kind: EventKind
    /// Seconds since the Unix epoch when it happened.
    public var timestamp: Double
    /// The object it is about: a `Listener` (server) or a `Connection` (client or client connection).
    public var source: Endpoint
    /// `.Errors`: what happened, in words (nil for EVENT_RECEIVE).
    public var message: String?
    /// `.Result` of EVENT_CONNECTED.
    public var result: Bool
    /// The MessagePack body of EVENT_RECEIVE, already validated.
    public var payload: ByteBlock

    /// Creates an event stamped with `timestamp` (default: the current wall-clock time).
    public init(_ kind: EventKind, source: Endpoint, message: String? = nil, result: Bool = false,
                payload: ByteBlock = ByteBlock(),
                timestamp: Double = Clock.wall()) {
        self.kind = kind
        self.timestamp = timestamp
        self.source = source
        self.message = message
        self.result = result
        self.payload = payload
    }
}
