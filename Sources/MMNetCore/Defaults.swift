// Every default and hard limit of mmnet, as named constants in one place.
// `network.Configure` reads and sets the per-state values that start from these.
//
// Thread: any (constants).

/// Defaults and bounds of the settings a Lua state can change with `network.Configure`.
public enum Defaults {
    /// Largest encoded message, in bytes, that is sent or accepted (16 MiB).
    public static let maxMessageSize = 16 * 1024 * 1024
    /// Deepest nesting of tables in a message (the message table itself is depth 1).
    public static let maxDepth = 64
    /// Bytes a connection may have waiting to be written before Send refuses more (64 MiB).
    public static let sendQueueLimit = 64 * 1024 * 1024
    /// Events the queue of one Lua state holds (the documented 2000).
    public static let eventQueueSize = 2000
    /// Bytes of received messages the event queue of one Lua state holds before mmnet stops
    /// reading that state's sockets until the script polls (64 MiB): what a busy script can be
    /// made to hold, whatever its peers send.
    public static let eventQueueBytes = 64 * 1024 * 1024
    /// Seconds a new connection has to complete TCP connect, TLS and the hello.
    public static let helloTimeout = 5.0
    /// Seconds between the pings mmnet sends on each connection (they measure the round trip
    /// and keep the peer's timeout from firing on an idle link).
    public static let pingInterval = 1.0
    /// Seconds without a byte from the peer after which it is declared gone (0 turns it off).
    /// With the 1 s ping interval a vanished peer is noticed 5 to 5.1 s after the last bytes
    /// it sent, 4 to 5.1 s after it vanished.
    public static let peerTimeout = 5.0
    /// Seconds `PollEvents(timeout)` keeps checking for an event before it sleeps, when the
    /// previous wait was short (a reply arriving within this costs no thread wake-up).
    public static let spinWait = 50e-6
    /// Seconds between the I/O thread's sweeps for pings due and peers timed out (shorter
    /// when a connection's PingInterval is shorter).
    public static let livenessSweep = 0.1
}
