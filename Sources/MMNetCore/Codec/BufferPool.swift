// Large buffers kept for reuse: the encoder's buffer of a large frame going out, the read
// buffer of a large message coming in, and the ciphertext of encrypted connections.
//
// Thread: any (its own lock). Buffers are taken on one thread (the Lua thread encoding, the
// I/O thread reading) and often given back on the other (after the write, after the decode).
import Glibc

/// A few large malloc'd buffers (`minimumSize` and up) given back instead of freed, for the
/// next large message of the same Lua state: the encoder's frames, the read buffers of large
/// messages coming in, and the ciphertext of encrypted connections.
///
/// Why: malloc gives a buffer of a megabyte either as fresh pages (mmap, or a heap it has
/// just grown again after trimming), and the first write to each 4 KiB page of it then costs
/// a page fault. With one such buffer per message, `make bench`'s 1 MiB workload spent more
/// time faulting pages in than copying bytes. A buffer kept here was touched already.
///
/// Fresh buffers are made a size class large (`capacity(for:)`: rounded up to the next eighth
/// of a power of two), so that messages whose sizes differ by a few bytes (a growing sequence
/// number) share buffers: with exact sizes, a pool filled with buffers one byte too small for
/// the next messages, and every 1 MiB message then took fresh pages and freed them again.
///
/// At most `maxBuffers` buffers and `maxBytes` bytes are kept: a buffer given back to a full
/// pool takes the place of the oldest ones, so the pool follows the sizes in use. A buffer is
/// handed out only for a need of at least half its size, so a small message never holds a
/// huge buffer; and each is freed once it has been kept `idleTime` without being taken
/// (`releaseIfIdle`). Among buffers that fit equally, the one given back last is taken, so a
/// steady trickle of small reads (pings on idle connections, each read into a buffer of
/// `minimumSize`) keeps one buffer in use and lets the others go; taking the oldest instead
/// rotated through all of them, and a state with a few hundred idle connections held 4 MiB
/// for ever after a burst.
public final class BufferPool: @unchecked Sendable {
    /// The smallest buffer worth keeping (smaller ones are cheap for malloc to reuse).
    public static let minimumSize = 64 * 1024
    /// How many buffers are kept at most (the ciphertext of an encrypted stream comes in
    /// blocks of up to `Connection.encryptBatch`, many of them freed by one socket write; a
    /// full event queue of 1 MiB messages hands back 64).
    static let maxBuffers = 96
    /// How many bytes are kept at most, all buffers together: what a full event queue of the
    /// default `EventQueueBytes` (64 MiB) hands back when the script polls, in their size
    /// classes (72 MiB for 1 MiB messages), with room to spare. With 32 MiB, a receiver that
    /// fell behind a stream of 1 MiB messages got fresh pages for half of them, and stayed
    /// behind: 1 MiB one-way, 16 interleaved pairs, median 2,040 MB/s at 32 MiB, 2,600 now.
    static let maxBytes = 96 * 1024 * 1024
    /// Seconds a buffer is kept without being taken before it is freed.
    static let idleTime = 1.0

    /// A kept buffer and when it was given back (monotonic seconds).
    private typealias Kept = (memory: UnsafeMutableRawPointer, capacity: Int, since: Double)

    private let lock = Lock()
    /// The kept buffers, in the order they were given back (oldest first).
    private var buffers: [Kept] = []
    private var keptBytes = 0

    /// An empty pool.
    public init() {
        buffers.reserveCapacity(BufferPool.maxBuffers)
    }

    deinit {
        for buffer in buffers { free(buffer.memory) }
    }

    /// A kept buffer of at least `minimum` bytes and at most twice that, with its capacity:
    /// the smallest that fits, and of those the one given back last; nil when none fits (the
    /// caller mallocs one).
    public func take(minimum: Int) -> (memory: UnsafeMutableRawPointer, capacity: Int)? {
        guard minimum >= BufferPool.minimumSize else { return nil }
        return lock.withLock {
            var best: Int?
            for (index, buffer) in buffers.enumerated()
            where buffer.capacity >= minimum && buffer.capacity / 2 <= minimum
                && buffer.capacity <= (best.map { buffers[$0].capacity } ?? .max) {
                best = index
            }
            guard let best else { return nil }
            keptBytes -= buffers[best].capacity
            let taken = buffers.remove(at: best)
            return (taken.memory, taken.capacity)
        }
    }

    /// Keeps `memory` (malloc'd, `capacity` bytes) for a later `take`, freeing the oldest kept
    /// buffers when the pool would be over its limits; frees `memory` instead when it is below
    /// `minimumSize` or above `maxBytes`.
    public func giveBack(_ memory: UnsafeMutableRawPointer, capacity: Int) {
        guard capacity >= BufferPool.minimumSize && capacity <= BufferPool.maxBytes else {
            free(memory)
            return
        }
        let now = Clock.monotonic()
        let evicted: [Kept] = lock.withLock {
            var count = 0
            var bytes = keptBytes + capacity
            while buffers.count - count >= BufferPool.maxBuffers || bytes > BufferPool.maxBytes {
                bytes -= buffers[count].capacity
                count += 1
            }
            var evicted: [Kept] = []
            if count > 0 {
                evicted = Array(buffers[..<count])
                buffers.removeFirst(count)
            }
            buffers.append((memory, capacity, now))
            keptBytes = bytes
            return evicted
        }
        for buffer in evicted { free(buffer.memory) }
    }

    /// Frees the buffers kept for more than `idleTime` seconds before `now` (monotonic)
    /// without being taken: a state that stopped sending large messages does not hold their
    /// memory. Cheap when there is nothing to free.
    public func releaseIfIdle(now: Double) {
        let idle: [Kept] = lock.withLock {
            // Given back in order, so the idle ones come first.
            let idle = Array(buffers.prefix { now - $0.since > BufferPool.idleTime })
            guard !idle.isEmpty else { return [] }
            buffers.removeFirst(idle.count)
            keptBytes -= idle.reduce(0) { $0 + $1.capacity }
            return idle
        }
        for buffer in idle { free(buffer.memory) }
    }

    /// At least `size` bytes: a buffer kept by `pool` when one fits, otherwise fresh from
    /// malloc, `capacity(for:)` bytes (nil when malloc fails); with the capacity the buffer
    /// really has.
    static func allocate(_ size: Int, from pool: BufferPool?) -> (memory: UnsafeMutableRawPointer, capacity: Int)? {
        if let kept = pool?.take(minimum: size) { return kept }
        let capacity = pool == nil ? size : BufferPool.capacity(for: size)
        guard let fresh = malloc(max(capacity, 1)) else { return nil }
        return (fresh, capacity)
    }

    /// The capacity a fresh buffer for `size` bytes gets: from `minimumSize` on, `size` rounded
    /// up to the next multiple of an eighth of the largest power of two not above it (1 MiB and
    /// 31 bytes: 1.125 MiB), at most 12.5% more; below, `size` itself (not kept anyway).
    static func capacity(for size: Int) -> Int {
        guard size >= BufferPool.minimumSize else { return size }
        let step = 1 << (Int.bitWidth &- size.leadingZeroBitCount &- 4)
        return (size + step - 1) & ~(step - 1)
    }

    /// Gives `memory` (`capacity` bytes, from malloc) back to `pool`, which keeps or frees it;
    /// frees it when there is no pool.
    static func release(_ memory: UnsafeMutableRawPointer, capacity: Int, to pool: BufferPool?) {
        if let pool { pool.giveBack(memory, capacity: capacity) } else { free(memory) }
    }

    /// How many bytes are kept now (for tests).
    var keptByteCount: Int { lock.withLock { keptBytes } }
}
