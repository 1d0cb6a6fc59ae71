// ByteSlab: the small message bodies of one read, copied one after another into shared
// regions instead of one allocation each.
//
// Thread: one thread fills a slab (the I/O thread); its blocks cross threads once sealed.
import Glibc

/// Copies small byte runs one after another into shared malloc'd regions, so that the many
/// message bodies of one read cost one allocation (and, on the thread that frees them, one
/// free) instead of one each. A region is freed when the last block in it goes.
///
/// Thread: one thread fills it (the I/O thread); its blocks may cross threads once `seal()`
/// has been called, which also closes the region: the next copy starts a new one.
public struct ByteSlab {
    /// The largest region made for bodies that would leave more room than this.
    public static let regionSize = 64 * 1024

    private var region: AdoptedMemory?
    private var used = 0
    private var capacity = 0

    /// An empty slab: it allocates on the first copy.
    public init() {}

    /// A block holding a copy of `bytes`, in the current region when they fit; otherwise in a
    /// new region of `expected` bytes (at most `regionSize`, at least `bytes.count`), where
    /// `expected` is how many bytes the caller may still copy, these included. Nil when malloc
    /// has no memory for a new region.
    public mutating func copy(_ bytes: UnsafeRawBufferPointer, expected: Int) -> ByteBlock? {
        if region == nil || capacity - used < bytes.count {
            seal()
            let size = max(bytes.count, min(expected, ByteSlab.regionSize), 1)
            guard let memory = malloc(size) else { return nil }
            capacity = size
            region = AdoptedMemory(memory, capacity: size, pool: nil)
        }
        let region = region!
        if let source = bytes.baseAddress { (region.memory + used).copyMemory(from: source, byteCount: bytes.count) }
        let block = ByteBlock(sharing: region, offset: used, count: bytes.count)
        used += bytes.count
        return block
    }

    /// Closes the current region, giving its unused end back to malloc; its blocks may now
    /// cross threads.
    public mutating func seal() {
        if let region, used < capacity, let trimmed = realloc(region.memory, max(used, 1)) {
            region.memory = trimmed  // blocks hold offsets, so a moved region stays right
        }
        region = nil
        used = 0
        capacity = 0
    }
}
