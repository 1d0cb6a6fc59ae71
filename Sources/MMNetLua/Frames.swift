// Turning the table a script sends into one frame, encoded once whatever the number of
// connections it goes to.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Encodes the table at `index` as a message frame (header + MessagePack body) under the
/// state's limits, a large one in a buffer of `pool`; the error names where in the table the
/// problem is.
func encodeMessageFrame(_ L: OpaquePointer, at index: Int32, settings: Settings, pool: BufferPool) -> Result<ByteBlock, CodecError> {
    withEncodedTable(L, at: index, rootName: "packet", limits: settings.codecLimits, headroom: FrameHeader.size,
                     pool: pool) { writer in
        writer.withUnsafeMutableBytes { bytes in
            FrameHeader(length: bytes.count - FrameHeader.size, type: .message).write(into: bytes)
        }
        // A small frame is copied out of the encoder's stack buffer; a large one keeps the
        // encoder's heap memory, without a copy (back to the pool once written).
        return writer.take()
    }
}

/// The words for a refused send.
func describe(_ outcome: Connection.SendOutcome, limit: Int) -> String {
    switch outcome {
    case .sent: return "sent"
    case .queueFull: return "send queue full (SendQueueLimit is \(limit) bytes)"
    case .notConnected: return "not connected"
    }
}
