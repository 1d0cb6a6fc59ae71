// OutgoingFrame: one encoded message (or control frame) on its way from `Send` into the send
// queues: borrowed, shared, or spliced around the large strings the script lent.
//
// Thread: the thread that sends it (the Lua thread, or the I/O thread for pings and pongs);
// each queue takes what it keeps before the call returns.

/// A block that goes between the encoder's bytes at `offset` (a string the script lent).
public struct Splice {
    /// Where in the encoder's bytes the block goes.
    public let offset: Int
    /// The bytes that go there.
    public let block: ByteBlock

    /// The block `block` at `offset`.
    public init(offset: Int, block: ByteBlock) {
        self.offset = offset
        self.block = block
    }
}

/// A frame on its way from `Send` (or the I/O thread's own control frames) into send queues.
public enum OutgoingFrame {
    /// Bytes valid only during the call (the encoder's stack memory): each queue copies them.
    case borrowed(UnsafeRawBufferPointer)
    /// A large frame that every queue it goes to shares, without a copy.
    case shared(ByteBlock)
    /// Bytes valid only during the call, which each queue copies, with blocks that every queue
    /// shares between them (offsets ascending): a frame around the large strings the script lent.
    case spliced(UnsafeRawBufferPointer, [Splice])

    /// The number of bytes.
    public var count: Int {
        switch self {
        case .borrowed(let bytes): return bytes.count
        case .shared(let block): return block.count
        case .spliced(let bytes, let splices): return splices.reduce(bytes.count) { $0 + $1.block.count }
        }
    }

    /// Whether the bytes are in one piece (`withUnsafeBytes` reads them).
    public var isContiguous: Bool {
        if case .spliced = self { return false }
        return true
    }

    /// Calls `body` with the bytes of a contiguous frame; the pointer is valid only during the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .borrowed(let bytes): return try body(bytes)
        case .shared(let block): return try block.withUnsafeBytes(body)
        case .spliced: preconditionFailure("OutgoingFrame: a spliced frame is not contiguous")
        }
    }
}
