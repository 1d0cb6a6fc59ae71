// Turning the table a script sends into one frame, encoded once whatever the number of
// connections it goes to.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Encodes the table at `index` as a message frame (header + MessagePack body) under the
/// state's limits and calls `body` with it: a small frame borrowed from the encoder's stack
/// memory (each send queue copies it), a large one in a heap buffer (of `pool`) that every
/// queue shares, or, around strings of `Loan.minimumSize` bytes and more, which are lent
/// (`context.loans`) rather than copied, a spliced one. The error names where in the table
/// the problem is. Lets go of the strings of loans that ended first, and makes room for more
/// (`reserveLoanSlots`): nil when a debug hook raised an error meanwhile, on the stack for the
/// caller to raise (nothing is sent).
@inline(__always)
func withMessageFrame<R>(_ L: OpaquePointer, at index: Int32, settings: Settings, context: ScriptContext,
                         _ body: (OutgoingFrame) -> R) -> Result<R, CodecError>? {
    returnLoans(L, book: context.loans)
    guard reserveLoanSlots(L, book: context.loans) else { return nil }
    return withEncodedTable(L, at: index, rootName: "packet", limits: settings.codecLimits, headroom: FrameHeader.size,
                            pool: context.buffers, lending: context.loans) { writer, splices in
        let length = splices.reduce(writer.count - FrameHeader.size) { $0 + $1.block.count }
        writer.withUnsafeMutableBytes { bytes in
            FrameHeader(length: length, type: .message).write(into: bytes)
        }
        if !splices.isEmpty { return writer.withBytes { body(.spliced($0, splices)) } }
        if writer.isInScratch { return writer.withBytes { body(.borrowed($0)) } }
        return body(.shared(writer.take()))
    }
}

/// The words for a refused send.
func describe(_ outcome: Connection.SendOutcome, limit: Int) -> String {
    switch outcome {
    case .sent: return "sent"
    case .queueFull: return "send queue full (SendQueueLimit is \(limit) bytes)"
    case .notConnected: return "not connected"
    case .outOfMemory: return "not enough memory to queue the message"
    }
}
