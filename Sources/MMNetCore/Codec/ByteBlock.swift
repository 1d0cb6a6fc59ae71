// An immutable run of bytes that crosses threads: a frame on its way out (from `Send` to the
// socket) or a message body on its way in (from the read buffer to the script's decode).
//
// Thread: any. Made on one thread, read and released on another; never changed once made.
import Glibc

/// Immutable bytes held by an array, or by malloc'd memory taken over without a copy: the
/// encoder's buffer of a large frame (`ByteWriter.take`), the read buffer that held nothing
/// but one large message (`ReadBuffer.takeAll`), a region that many small message bodies
/// share (`ByteSlab`), or a large string the script lent (`Loan`). Copies of a block share its
/// bytes.
public struct ByteBlock: Sendable {
    /// Who owns the bytes. Each case is one reference, which keeps copying an event cheap.
    @usableFromInline enum Storage: Sendable {
        /// An array holds the bytes.
        case copied([UInt8])
        /// malloc'd memory taken over, maybe shared with other blocks (`ByteSlab`).
        case adopted(AdoptedMemory)
        /// A string the script lent.
        case lent(Loan)
    }

    /// Who owns the bytes.
    @usableFromInline let storage: Storage
    /// Where the bytes start in the adopted memory (0 for an array).
    @usableFromInline let offset: Int
    /// The number of bytes.
    public let count: Int

    /// No bytes (the body of the events that are not messages).
    public init() {
        self.init([])
    }

    /// The bytes of `array`.
    public init(_ array: [UInt8]) {
        storage = .copied(array)
        offset = 0
        count = array.count
    }

    /// `count` bytes at `offset` in `memory`, which came from malloc and goes with the body:
    /// back to `pool` (it holds `capacity` bytes), or freed.
    init(adopting memory: UnsafeMutableRawPointer, offset: Int, count: Int, capacity: Int = 0, pool: BufferPool? = nil) {
        self.init(sharing: AdoptedMemory(memory, capacity: capacity, pool: pool), offset: offset, count: count)
    }

    /// A copy of `bytes` in a buffer from `pool`, which it goes back to: for a large body, where
    /// fresh memory would cost a page fault per 4 KiB written (nil: malloc'd and freed). Nil
    /// when there is no memory.
    init?(copying bytes: UnsafeRawBufferPointer, pool: BufferPool?) {
        guard let (memory, capacity) = BufferPool.allocate(bytes.count, from: pool) else { return nil }
        if let source = bytes.baseAddress { memory.copyMemory(from: source, byteCount: bytes.count) }
        self.init(adopting: memory, offset: 0, count: bytes.count, capacity: capacity, pool: pool)
    }

    /// The bytes at `range` of this block of malloc'd memory, sharing it.
    func slice(_ range: Range<Int>) -> ByteBlock {
        guard case .adopted(let region) = storage else { preconditionFailure("ByteBlock: only malloc'd memory is sliced") }
        return ByteBlock(sharing: region, offset: offset + range.lowerBound, count: range.count)
    }

    /// The bytes of `loan`, read where the script keeps them.
    public init(lent loan: Loan) {
        storage = .lent(loan)
        offset = 0
        count = loan.count
    }

    /// `count` bytes at `offset` in a region other blocks may share (`ByteSlab`).
    init(sharing region: AdoptedMemory, offset: Int, count: Int) {
        storage = .adopted(region)
        self.offset = offset
        self.count = count
    }

    /// Calls `body` with the bytes; the pointer is valid only during the call.
    ///
    /// Inlinable, and the address of adopted or lent bytes is read before `body` runs, so that
    /// reading a block in place (an event in the drained array) counts no reference: the block
    /// keeps its memory alive, and no reference is held across `body`.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if case .copied(let bytes) = storage { return try bytes.withUnsafeBytes(body) }
        return try body(UnsafeRawBufferPointer(start: stableStart, count: count))
    }

    /// The bytes of the block at `block`, for a caller that must not hold a reference to it
    /// while it reads them (it calls what may not return: code that a Lua error unwinds). Any
    /// reference counted to find them is let go before this returns; the bytes stay valid while
    /// that block lives unchanged. Nil for bytes an array holds: only a closure may use those
    /// (`withUnsafeBytes`). Message bodies the I/O thread queues never are.
    @inline(never)
    public static func unsafeBytes(of block: UnsafePointer<ByteBlock>) -> UnsafeRawBufferPointer? {
        let count = block.pointee.count
        if let start = block.pointee.stableStart { return UnsafeRawBufferPointer(start: start, count: count) }
        return count == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : nil
    }

    /// The first byte of adopted or lent bytes (nil for an array).
    @inlinable
    var stableStart: UnsafeRawPointer? {
        switch storage {
        case .copied: return nil
        case .adopted(let region): return UnsafeRawPointer(region.memory + offset)
        case .lent(let loan): return loan.start + offset
        }
    }
}
