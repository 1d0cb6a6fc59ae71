// The bytes read from one connection that no frame has consumed yet.
//
// Thread: I/O thread only.
import Glibc

/// A growable byte buffer with a read index and a write index. It holds memory only while it
/// holds bytes: an idle connection costs nothing here. Large buffers come from and go back to
/// a `BufferPool`.
struct ReadBuffer {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var start = 0
    private var end = 0
    /// Where large buffers come from and go back to (nil: malloc and free only).
    let pool: BufferPool?

    /// An empty buffer that takes its large buffers from `pool`.
    init(pool: BufferPool? = nil) {
        self.pool = pool
    }

    /// Bytes waiting to be consumed.
    var count: Int { end - start }

    /// Bytes that fit after the waiting ones without growing the buffer.
    var room: Int { capacity - count }

    /// The waiting bytes (valid until the next mutation).
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.map { $0 + start }, count: count)
    }

    /// Makes room for at least `minimum` more bytes after the waiting ones and returns it; nil
    /// when there is no memory for it (the waiting bytes are kept).
    mutating func writableSpace(minimum: Int) -> UnsafeMutableRawBufferPointer? {
        if capacity - end < minimum {
            if start > 0 && capacity - count >= minimum {
                memmove(storage!, storage! + start, count)
            } else {
                guard let (fresh, newCapacity) = BufferPool.allocate(max(count + minimum, capacity * 2), from: pool) else {
                    return nil
                }
                if let storage {
                    memcpy(fresh, storage + start, count)
                    BufferPool.release(storage, capacity: capacity, to: pool)
                }
                storage = fresh
                capacity = newCapacity
            }
            end = count
            start = 0
        }
        return UnsafeMutableRawBufferPointer(start: storage! + end, count: capacity - end)
    }

    /// Records that `n` bytes were written into the space `writableSpace` returned.
    mutating func didWrite(_ n: Int) {
        end += n
    }

    /// Drops the first `n` waiting bytes; frees the memory once nothing waits.
    mutating func consume(_ n: Int) {
        start += n
        releaseIfEmpty()
    }

    /// When the waiting bytes are exactly `count`, hands them over without a copy, minus their
    /// first `prefix` bytes, and leaves the buffer empty (without memory); otherwise returns nil.
    mutating func takeAll(count expected: Int, droppingPrefix prefix: Int) -> ByteBlock? {
        guard count == expected, let storage else { return nil }
        let body = ByteBlock(adopting: storage, offset: start + prefix, count: count - prefix, capacity: capacity, pool: pool)
        self.storage = nil
        capacity = 0
        start = 0
        end = 0
        return body
    }

    /// Frees the memory when no byte waits (space asked for and left unwritten), so that an
    /// idle connection holds none.
    mutating func releaseIfEmpty() {
        if start == end { release() }
    }

    /// Frees the memory and forgets the bytes.
    mutating func release() {
        if let storage { BufferPool.release(storage, capacity: capacity, to: pool) }
        storage = nil
        capacity = 0
        start = 0
        end = 0
    }
}
