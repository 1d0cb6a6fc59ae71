// The settings of one Lua state (`network.Configure`), their defaults and their checks.
//
// Thread: any (value type; `ScriptContext` guards the copy in force).

/// What a full event queue does.
public enum QueueFullPolicy: String, Sendable {
    /// Drop the oldest event, count it and report the loss (the user's document).
    case drop
    /// Stop reading this state's sockets until the script polls: nothing is ever lost.
    case wait
}

/// Per-state limits and behaviours, starting from `Defaults`.
public struct Settings: Sendable, Equatable {
    /// Largest encoded message sent or accepted, in bytes.
    public var maxMessageSize = Defaults.maxMessageSize
    /// Deepest table nesting in a message.
    public var maxDepth = Defaults.maxDepth
    /// Bytes a connection may have waiting to be written before Send refuses more.
    public var sendQueueLimit = Defaults.sendQueueLimit
    /// Capacity of the event queue.
    public var eventQueueSize = Defaults.eventQueueSize
    /// Seconds a new connection has to finish connecting and the hello.
    public var helloTimeout = Defaults.helloTimeout
    /// What a full event queue does.
    public var queueFull = QueueFullPolicy.drop

    /// The defaults.
    public init() {}

    /// Checks every value; returns a message naming the first bad one, or nil.
    public func problem() -> String? {
        if maxMessageSize < 16 || maxMessageSize > Int(UInt32.max) {
            return "MaxMessageSize must be between 16 and \(UInt32.max) bytes"
        }
        if maxDepth < 1 || maxDepth > 1000 { return "MaxDepth must be between 1 and 1000" }
        if sendQueueLimit < 1024 { return "SendQueueLimit must be at least 1024 bytes" }
        if eventQueueSize < 1 || eventQueueSize > 10_000_000 {
            return "EventQueueSize must be between 1 and 10000000"
        }
        if !(helloTimeout >= 0.1 && helloTimeout <= 600) {
            return "HelloTimeout must be between 0.1 and 600 seconds"
        }
        return nil
    }
}
