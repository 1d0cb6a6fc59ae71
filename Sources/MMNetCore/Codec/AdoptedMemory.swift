// AdoptedMemory: malloc'd memory that byte blocks share, given back to its pool or freed when
// the last of them goes.
//
// Thread: any, once sealed (see the type).
import Glibc

/// malloc'd memory, given back to its pool or freed when the last block using it goes. Its
/// address changes only while a `ByteSlab` seals it, before any of its blocks has left the
/// filling thread; after that it is immutable, so it may cross threads.
@usableFromInline
final class AdoptedMemory: @unchecked Sendable {
    /// The memory (moved only by `ByteSlab.seal`).
    @usableFromInline var memory: UnsafeMutableRawPointer
    /// The size `memory` was allocated with, given back to `pool` with it.
    let capacity: Int
    /// Where the memory goes back to (nil: it is freed).
    let pool: BufferPool?

    /// Takes over `memory` (`capacity` bytes from malloc), for `pool` or to be freed.
    init(_ memory: UnsafeMutableRawPointer, capacity: Int, pool: BufferPool?) {
        self.memory = memory
        self.capacity = capacity
        self.pool = pool
    }

    deinit { BufferPool.release(memory, capacity: capacity, to: pool) }
}
