// FrameParser: what the next bytes of a connection's input hold after the hello — a whole
// frame, a partial one, or a header that must be refused — as a pure function on bytes, so
// that the I/O thread and the fuzz target (Fuzz/FrameFuzz.swift) run the same checks.
//
// Thread: any (pure functions on bytes; the I/O thread calls it for each connection).

/// The outcome of looking at the start of a connection's unconsumed input.
public enum FrameParse: Equatable, Sendable {
    /// Not enough bytes yet for a header, or for the body the header announces.
    case needMore
    /// A whole frame of `type` whose body is the `bodyLength` bytes after the header.
    case frame(type: FrameType, bodyLength: Int)
    /// The header announces a message body over `maxMessageSize` (refused before its body
    /// arrives, so a 4 GiB length costs nothing).
    case oversized(length: Int, limit: Int)
    /// The header is unacceptable whatever follows; `reason` is the EVENT_ERROR text.
    case refused(reason: String)
}

/// Splits a connection's input into frames (PROTOCOL.md, "Frames").
public enum FrameParser {
    /// Looks at the frame at the start of `bytes`.
    /// - Parameters:
    ///   - bytes: the unconsumed input after the hello.
    ///   - maxMessageSize: the largest message body accepted.
    /// - Returns: `.needMore` until a whole frame is there; `.frame` when one is (it spans
    ///   `FrameHeader.size + bodyLength` bytes); `.oversized` or `.refused` as soon as the
    ///   header alone condemns the connection.
    public static func next(_ bytes: UnsafeRawBufferPointer, maxMessageSize: Int) -> FrameParse {
        guard bytes.count >= FrameHeader.size else { return .needMore }
        let header = FrameHeader(reading: bytes)
        guard let type = FrameType(rawValue: header.type) else {
            return .refused(reason: "unknown frame type \(header.type)")
        }
        switch type {
        case .message:
            if header.length > maxMessageSize {
                return .oversized(length: header.length, limit: maxMessageSize)
            }
        case .ping, .pong:
            if header.length != Ping.bodySize {
                return .refused(reason: "control frame of \(header.length) bytes (expected \(Ping.bodySize))")
            }
        }
        guard bytes.count - FrameHeader.size >= header.length else { return .needMore }
        return .frame(type: type, bodyLength: header.length)
    }
}
