// The 5-byte header in front of every frame after the hello (PROTOCOL.md, "Frames").
//
// Thread: any (pure functions on bytes).

/// What a frame carries.
public enum FrameType: UInt8, Sendable {
    /// A message: one MessagePack value (a Lua table) for the script.
    case message = 0
    /// A ping of mmnet's own: 8 bytes the peer echoes in a pong.
    case ping = 1
    /// The echo of a ping.
    case pong = 2
}

/// Body length (big-endian u32) and frame type (u8).
public struct FrameHeader: Sendable, Equatable {
    /// Header bytes on the wire.
    public static let size = 5
    /// Bytes of body that follow the header.
    public var length: Int
    /// The raw type byte (see `FrameType`).
    public var type: UInt8

    /// Creates a header.
    public init(length: Int, type: FrameType) {
        self.length = length
        self.type = type.rawValue
    }

    /// Reads a header from the first `size` bytes of `bytes`.
    public init(reading bytes: UnsafeRawBufferPointer) {
        length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        type = bytes[4]
    }

    /// Writes the header into the first `size` bytes of `bytes`.
    public func write(into bytes: UnsafeMutableRawBufferPointer) {
        bytes[0] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: length)
        bytes[4] = type
    }
}
