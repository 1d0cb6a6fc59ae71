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
    /// Seconds a new connection has to complete TCP connect, TLS and the hello.
    public static let helloTimeout = 5.0
}
