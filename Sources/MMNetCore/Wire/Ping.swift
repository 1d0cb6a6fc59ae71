// The ping and pong frames of mmnet's own (PROTOCOL.md, "Ping and pong"): a ping carries
// 8 bytes the peer echoes in a pong; mmnet puts its monotonic send time there.
//
// Thread: any (pure functions on bytes).

/// Building pings and pongs, and reading the round trip off a pong.
public enum Ping {
    /// Bytes of a ping or pong body.
    public static let bodySize = 8
    /// A ping is answered only while fewer bytes than this wait to be written to its peer: a
    /// peer that sends pings and does not read the pongs would otherwise grow our send queue
    /// by 13 bytes a ping without end (the "ping flood" of HTTP/2 servers, CVE-2019-9512).
    /// Liveness does not need the pongs: any bytes count as a sign of life.
    public static let answerQueueLimit = 64 * 1024

    /// A ping frame stamped with `now` (monotonic seconds).
    public static func frame(now: Double) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: FrameHeader.size + bodySize)
        frame.withUnsafeMutableBytes { out in
            FrameHeader(length: bodySize, type: .ping).write(into: out)
            out.storeBytes(of: now.bitPattern.bigEndian, toByteOffset: FrameHeader.size, as: UInt64.self)
        }
        return frame
    }

    /// A frame of `type` carrying `body` (the pong that echoes a ping).
    public static func frame(_ type: FrameType, echoing body: UnsafeRawBufferPointer) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: FrameHeader.size + body.count)
        frame.withUnsafeMutableBytes { out in
            FrameHeader(length: body.count, type: type).write(into: out)
            UnsafeMutableRawBufferPointer(rebasing: out[FrameHeader.size...]).copyMemory(from: body)
        }
        return frame
    }

    /// The send time a ping or pong body carries.
    public static func stamp(of body: UnsafeRawBufferPointer) -> Double {
        Double(bitPattern: UInt64(bigEndian: body.loadUnaligned(as: UInt64.self)))
    }

    /// Seconds between the send time in a pong's body and `now`.
    public static func roundTrip(of body: UnsafeRawBufferPointer, now: Double) -> Double {
        max(0, now - stamp(of: body))
    }
}
