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
    /// Bytes of received messages the event queue holds before reading stops until a poll.
    public var eventQueueBytes = Defaults.eventQueueBytes
    /// Seconds a new connection has to finish connecting and the hello.
    public var helloTimeout = Defaults.helloTimeout
    /// What a full event queue does.
    public var queueFull = QueueFullPolicy.drop
    /// Seconds between pings (0: no pings).
    public var pingInterval = Defaults.pingInterval
    /// Seconds of silence after which a peer is declared gone (0: never).
    public var peerTimeout = Defaults.peerTimeout
    /// Seconds a waiting `PollEvents` checks for events before it sleeps (0: never).
    public var spinWait = Defaults.spinWait

    /// The defaults.
    public init() {}

    /// The codec limits these settings impose on every message.
    public var codecLimits: CodecLimits {
        CodecLimits(maxDepth: maxDepth, maxSize: maxMessageSize)
    }

    /// Checks every value; returns a message naming the first bad one, or nil.
    public func problem() -> String? {
        if maxMessageSize < 16 || maxMessageSize > Int(UInt32.max) {
            return "MaxMessageSize must be between 16 and \(UInt32.max) bytes"
        }
        if maxDepth < 1 || maxDepth > CodecLimits.depthCeiling {
            return "MaxDepth must be between 1 and \(CodecLimits.depthCeiling)"
        }
        if sendQueueLimit < 1024 { return "SendQueueLimit must be at least 1024 bytes" }
        if eventQueueSize < 1 || eventQueueSize > 10_000_000 {
            return "EventQueueSize must be between 1 and 10000000"
        }
        if eventQueueBytes < 1024 { return "EventQueueBytes must be at least 1024 bytes" }
        if !(helloTimeout >= 0.1 && helloTimeout <= 600) {
            return "HelloTimeout must be between 0.1 and 600 seconds"
        }
        if !(pingInterval == 0 || (pingInterval >= 0.01 && pingInterval <= 3600)) {
            return "PingInterval must be 0 (off) or between 0.01 and 3600 seconds"
        }
        if !(peerTimeout == 0 || (peerTimeout >= 0.05 && peerTimeout <= 86400)) {
            return "PeerTimeout must be 0 (off) or between 0.05 and 86400 seconds"
        }
        if !(spinWait >= 0 && spinWait <= 0.01) {
            return "SpinWait must be between 0 (off) and 0.01 seconds"
        }
        if peerTimeout > 0 && pingInterval == 0 {
            return "PeerTimeout must be 0 (off) when PingInterval is 0 (pings are what keeps a live but quiet peer "
                + "from timing out)"
        }
        if peerTimeout > 0 && peerTimeout <= pingInterval {
            return "PeerTimeout must be longer than PingInterval (pings are what keeps a live peer from timing out)"
        }
        return nil
    }
}
