// The statistics of a connection (`obj:GetStats()`), and their sum over a server's connections.
//
// Thread: any (value type; `Connection` keeps its copy under its lock).

/// Traffic and round-trip figures of one connection, or of several summed.
public struct ConnectionStats: Sendable {
    /// Bytes written to the socket (frames, hello and pings included).
    public var bytesSent = 0
    /// Bytes read from the socket.
    public var bytesReceived = 0
    /// Messages accepted by Send.
    public var messagesSent = 0
    /// Messages queued for the script as EVENT_RECEIVE.
    public var messagesReceived = 0
    /// Bytes waiting in the send queue.
    public var sendQueueBytes = 0
    /// Seconds since the hello completed (0 before, and once closed).
    public var connectedTime = 0.0
    /// The latest round trip measured by a ping, in seconds (nil before the first pong).
    public var rtt: Double?
    /// The round-trip time smoothed over recent pings (weight 1/8 per new sample), in seconds.
    public var smoothedRTT: Double?

    /// Zeroes.
    public init() {}

    /// Records a round-trip sample.
    mutating func record(rtt sample: Double) {
        rtt = sample
        smoothedRTT = smoothedRTT.map { $0 + (sample - $0) / 8 } ?? sample
    }

    /// A server's figures: the sums of its connections' counts, the longest connected time,
    /// and the mean of the round-trip times known.
    public static func total(_ all: [ConnectionStats]) -> ConnectionStats {
        var sum = ConnectionStats()
        var rtts: [Double] = []
        var smoothed: [Double] = []
        for one in all {
            sum.bytesSent += one.bytesSent
            sum.bytesReceived += one.bytesReceived
            sum.messagesSent += one.messagesSent
            sum.messagesReceived += one.messagesReceived
            sum.sendQueueBytes += one.sendQueueBytes
            sum.connectedTime = max(sum.connectedTime, one.connectedTime)
            if let value = one.rtt { rtts.append(value) }
            if let value = one.smoothedRTT { smoothed.append(value) }
        }
        if !rtts.isEmpty { sum.rtt = rtts.reduce(0, +) / Double(rtts.count) }
        if !smoothed.isEmpty { sum.smoothedRTT = smoothed.reduce(0, +) / Double(smoothed.count) }
        return sum
    }
}
