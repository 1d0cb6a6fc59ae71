// ByteWriter: a growable raw byte buffer with a hard size limit, the encoder's output.
//
// Thread: any (each writer is owned by one caller; the encoder uses it on the Lua thread).
import Glibc

/// Thrown by `ByteWriter` when a write would take it past its limit.
public struct ByteWriterOverflow: Error, Sendable {
    /// Creates the error.
    @inlinable public init() {}
}

/// A byte buffer that grows by doubling up to a fixed limit and refuses to grow past it.
///
/// Writes check capacity inline and only call out when the buffer must grow, so the size limit
/// costs nothing on the fast path. Non-copyable: it owns its memory and frees it in `deinit`.
@frozen
public struct ByteWriter: ~Copyable {
    /// Start of the buffer.
    @usableFromInline var base: UnsafeMutableRawPointer
    /// Bytes written so far.
    @usableFromInline var used: Int
    /// Bytes the writer may fill without growing: what is allocated, but never past `limit`
    /// (so that the inline check of a write is the limit's check too).
    @usableFromInline var capacity: Int
    /// Bytes allocated at `base`.
    @usableFromInline var allocated: Int
    /// Largest number of bytes the buffer may ever hold.
    @usableFromInline var limit: Int
    /// Whether `base` was allocated here (and must be freed) rather than lent by the caller.
    @usableFromInline var owned: Bool
    /// Where a large buffer comes from and goes back to (nil: malloc and free only). Not
    /// retained: whoever makes a writer with a pool keeps the pool alive longer than the writer.
    @usableFromInline unowned(unsafe) let pool: BufferPool?

    /// Creates an empty writer.
    /// - Parameters:
    ///   - initialCapacity: bytes to allocate up front (at least 16, but never more than `limit`).
    ///   - limit: the most bytes this writer will hold; a write past it throws.
    @inlinable
    public init(initialCapacity: Int = 256, limit: Int) {
        let cap = max(0, min(max(16, initialCapacity), limit))
        // malloc, not allocate(byteCount:alignment:), which goes through posix_memalign.
        guard let memory = malloc(max(cap, 1)) else { fatalError("ByteWriter: out of memory") }
        base = memory
        used = 0
        capacity = cap
        allocated = cap
        self.limit = limit
        owned = true
        pool = nil
    }

    /// Creates an empty writer that starts in `scratch`, which must outlive the writer; the writer
    /// copies to the heap when it needs more room.
    /// - Parameters:
    ///   - scratch: memory to use first (its size is clamped to `limit`).
    ///   - limit: the most bytes this writer will hold; a write past it throws.
    ///   - pool: where a large heap buffer is taken from, and goes back to; it must outlive the
    ///     writer (the writer does not retain it).
    @inlinable
    public init(scratch: UnsafeMutableRawBufferPointer, limit: Int, pool: BufferPool? = nil) {
        base = scratch.baseAddress!
        used = 0
        capacity = max(0, min(scratch.count, limit))
        allocated = scratch.count
        self.limit = limit
        owned = false
        self.pool = pool
    }

    deinit { if owned { BufferPool.release(base, capacity: allocated, to: pool) } }

    /// The number of bytes written.
    @inlinable public var count: Int { used }

    /// Counts `n` bytes that go into the message outside this writer (a lent string) against
    /// the limit: the writer takes that many fewer.
    /// - Throws: `ByteWriterOverflow` when they do not fit.
    @inlinable
    public mutating func reserveOutside(_ n: Int) throws(ByteWriterOverflow) {
        guard n <= limit &- used else { throw ByteWriterOverflow() }
        limit &-= n
        capacity = min(capacity, limit)
    }

    /// Gives back `n` bytes that `reserveOutside` counted: they go into the writer after all.
    @inlinable
    public mutating func cancelReserveOutside(_ n: Int) {
        limit &+= n
        capacity = min(allocated, limit)
    }

    /// Calls `body` with the bytes written so far.
    /// - Parameter body: reads the bytes; the pointer is valid only during the call.
    /// - Returns: what `body` returns.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }

    /// Makes room for `n` more bytes.
    /// - Throws: `ByteWriterOverflow` when `count + n` is over the limit.
    @inlinable @inline(__always)
    public mutating func reserve(_ n: Int) throws(ByteWriterOverflow) {
        if _slowPath(n > capacity &- used) { try grow(n) }
    }

    /// The slow path of `reserve`: reallocates to double size (or what is needed), never past the limit.
    @usableFromInline
    mutating func grow(_ n: Int) throws(ByteWriterOverflow) {
        guard n <= limit - used else { throw ByteWriterOverflow() }
        let needed = used + n
        let doubled = capacity > limit / 2 ? limit : capacity * 2
        var newCapacity = min(limit, max(needed, doubled))
        if owned {
            guard let newBase = realloc(base, newCapacity) else { throw ByteWriterOverflow() }
            base = newBase
        } else {
            guard let (newBase, size) = BufferPool.allocate(newCapacity, from: pool) else { throw ByteWriterOverflow() }
            newCapacity = size
            newBase.copyMemory(from: base, byteCount: used)
            base = newBase
            owned = true
        }
        allocated = newCapacity
        capacity = min(newCapacity, limit)
    }

    /// Appends one byte.
    @inlinable @inline(__always)
    public mutating func write(_ byte: UInt8) throws(ByteWriterOverflow) {
        try reserve(1)
        base.storeBytes(of: byte, toByteOffset: used, as: UInt8.self)
        used &+= 1
    }

    /// Appends a marker byte followed by `value` in big-endian order.
    @inlinable @inline(__always)
    public mutating func write<T: FixedWidthInteger>(_ marker: UInt8, bigEndian value: T) throws(ByteWriterOverflow) {
        let size = MemoryLayout<T>.size
        try reserve(1 + size)
        base.storeBytes(of: marker, toByteOffset: used, as: UInt8.self)
        (base + used + 1).storeBytes(of: value.bigEndian, as: T.self)
        used &+= 1 + size
    }

    /// Appends `count` bytes copied from `source`.
    @inlinable @inline(__always)
    public mutating func write(_ source: UnsafeRawPointer, count: Int) throws(ByteWriterOverflow) {
        try reserve(count)
        (base + used).copyMemory(from: source, byteCount: count)
        used &+= count
    }

    /// Appends `count` zero bytes (room for a header filled in later).
    @inlinable
    public mutating func writeZeros(_ count: Int) throws(ByteWriterOverflow) {
        try reserve(count)
        (base + used).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        used &+= count
    }

    /// Calls `body` with the bytes written so far, to change them in place (a header left
    /// room for).
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: used))
    }

    /// Whether the bytes are still in the caller's scratch memory (they have not needed the heap).
    public var isInScratch: Bool { !owned }

    /// Hands the bytes written over, without a copy, and leaves the writer empty; only once they
    /// have moved to the heap (not `isInScratch`). A buffer large enough for the pool goes back
    /// to it with the block; a smaller one is trimmed when a quarter or more of it is unused.
    public mutating func take() -> ByteBlock {
        precondition(owned, "ByteWriter.take: the bytes are in the caller's scratch memory")
        let block: ByteBlock
        if let pool, allocated >= BufferPool.minimumSize {
            block = ByteBlock(adopting: base, offset: 0, count: used, capacity: allocated, pool: pool)
        } else {
            if allocated - used >= used / 4, used > 0, let trimmed = realloc(base, used) { base = trimmed }
            block = ByteBlock(adopting: base, offset: 0, count: used)
        }
        owned = false
        used = 0
        capacity = 0
        allocated = 0
        return block
    }

    /// Copies the bytes written into a new array.
    @inlinable
    public func makeArray() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base, count: used))
    }
}
