// A connection's send queue: the bytes waiting to be written (or encrypted), in order. Small
// frames are packed one after another into a shared region; large ones are queued as they are.
//
// Thread: both, under the owning connection's lock (the Lua thread appends, the I/O thread
// takes and puts back).
import Glibc

/// Bytes to write, oldest first: blocks, the first of them partly written already, then an
/// open region that borrowed frames are copied into.
///
/// Why: a burst of small sends used to cost one heap block per frame (allocated by the Lua
/// thread, freed by the I/O thread) and one iovec each; packed, a burst is one region, a few
/// allocations and one iovec. The region starts small (a broadcast puts one in each of
/// thousands of queues) and doubles as it fills, up to `regionSize`; it is closed (becomes a
/// block) when full or when the I/O thread takes the queue, and the sends that follow start a
/// new one.
struct FrameQueue: ~Copyable {
    /// Bytes of a new region at least (a frame larger than this gets a region of its size).
    static let firstRegionSize = 512
    /// Bytes a region grows to at most (a frame larger than this gets a region of its size).
    static let regionSize = 64 * 1024

    /// Closed blocks, oldest first.
    private var blocks: [ByteBlock] = []
    /// Bytes of `blocks[0]` written already.
    private var headOffset = 0
    /// The open region (malloc'd), its bytes in use and its size.
    private var region: UnsafeMutableRawPointer?
    private var regionUsed = 0
    private var regionCapacity = 0

    /// An empty queue.
    init() {}

    deinit { free(region) }

    /// Whether no byte waits.
    var isEmpty: Bool { blocks.isEmpty && regionUsed == 0 }

    /// Queues `frame` minus its first `written` bytes (which the caller wrote already: then the
    /// queue must be empty, and the frame contiguous). Borrowed bytes are copied into the open
    /// region; a shared block is queued after it; a spliced frame's own bytes are copied into
    /// one block of their own, between whose pieces its lent blocks go. Returns false, having
    /// queued nothing, when malloc has no memory for the copy (a spliced frame's bytes can be
    /// up to `MaxMessageSize`).
    mutating func append(_ frame: OutgoingFrame, skipping written: Int = 0) -> Bool {
        precondition(written == 0 || isEmpty, "FrameQueue: a partly written frame must come first")
        switch frame {
        case .borrowed(let bytes):
            let rest = UnsafeRawBufferPointer(rebasing: bytes[written...])
            if region == nil || regionCapacity - regionUsed < rest.count {
                guard makeRoom(rest.count) else { return false }
            }
            if let source = rest.baseAddress { (region! + regionUsed).copyMemory(from: source, byteCount: rest.count) }
            regionUsed += rest.count
        case .shared(let block):
            if blocks.isEmpty && regionUsed == 0 { headOffset = written }
            append(block)
        case .spliced(let bytes, let splices):
            precondition(written == 0, "FrameQueue: a spliced frame is never partly written")
            guard let own = ByteBlock(copying: bytes, pool: nil) else { return false }
            var from = 0
            for splice in splices {
                if splice.offset > from { append(own.slice(from..<splice.offset)) }
                append(splice.block)
                from = splice.offset
            }
            if bytes.count > from { append(own.slice(from..<bytes.count)) }
        }
        return true
    }

    /// Queues `block` as it is, after what is queued (it cannot fail: no byte is copied).
    mutating func append(_ block: ByteBlock) {
        closeRegion()
        blocks.append(block)
    }

    /// Takes every byte waiting, as blocks (the first from byte `offset`), and leaves the queue
    /// empty.
    mutating func takeAll() -> (blocks: [ByteBlock], offset: Int) {
        closeRegion()
        var taken: [ByteBlock] = []
        swap(&taken, &blocks)
        defer { headOffset = 0 }
        return (taken, headOffset)
    }

    /// Puts back in front what a write did not take: `rest` (the first from byte `offset`),
    /// ahead of whatever was queued meanwhile.
    mutating func putBack(_ rest: ArraySlice<ByteBlock>, offset: Int) {
        guard !rest.isEmpty else { return }
        blocks.insert(contentsOf: rest, at: 0)
        headOffset = offset
    }

    /// Drops every byte waiting.
    mutating func removeAll() {
        blocks.removeAll()
        headOffset = 0
        free(region)
        region = nil
        regionUsed = 0
        regionCapacity = 0
    }

    /// Makes the open region hold `count` more bytes: grown in place (doubled) up to
    /// `regionSize`, or closed and replaced by a new one. False when malloc has no memory for
    /// it (the queue is unchanged, but for a region closed into a block).
    private mutating func makeRoom(_ count: Int) -> Bool {
        let needed = regionUsed + count
        if region != nil && needed <= FrameQueue.regionSize {
            let capacity = min(FrameQueue.regionSize, max(needed, regionCapacity * 2))
            if let grown = realloc(region, capacity) {
                region = grown
                regionCapacity = capacity
                return true
            }
        }
        closeRegion()
        let capacity = max(count, FrameQueue.firstRegionSize)
        guard let fresh = malloc(capacity) else { return false }
        region = fresh
        regionCapacity = capacity
        return true
    }

    /// Closes the open region: into a block (trimmed to its bytes in use) when it holds any.
    private mutating func closeRegion() {
        guard let memory = region else { return }
        defer {
            region = nil
            regionUsed = 0
            regionCapacity = 0
        }
        guard regionUsed > 0 else {
            free(memory)
            return
        }
        let trimmed = regionUsed < regionCapacity ? realloc(memory, regionUsed) ?? memory : memory
        if blocks.isEmpty { headOffset = 0 }
        blocks.append(ByteBlock(adopting: trimmed, offset: 0, count: regionUsed))
    }
}
