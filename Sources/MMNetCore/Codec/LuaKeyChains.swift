// LuaKeyChains: where Lua 5.4 puts a map's number keys in the hash part of the table the
// decoder makes for it, so that the reader can refuse keys chosen to collide. Lua hashes
// integers and floats without a seed: each key inserted walks the chain of keys already in
// its bucket, so n keys made to share one bucket cost n²/2 probes (20,000 of them, a 200 KB
// message, took the script 0.5 s; a 16 MiB map would take about an hour). Strings are hashed
// with a per-state random seed and are not followed.
//
// Thread: any (the reader's; a value type).
import Glibc

/// The bucket chains of one map's number keys, in the table `lua_createtable(L, 0, count)`
/// makes: a hash part of the next power of two at or above `count` nodes. Both of Lua 5.4's
/// placements of integer keys are followed, since the module may be loaded into either: 5.4.4
/// and later take an integer modulo the largest odd number below the size, 5.4.0 to 5.4.3
/// its low bits; floats (other than integral ones, which Lua stores as integers) go through
/// `l_hashfloat` and the modulo in both.
@usableFromInline
struct LuaKeyChains {
    /// Maps with fewer pairs are not followed: their keys cost at most 21 extra probes.
    @usableFromInline static let minimumCount = 8
    /// Most probes past the first that one message's number keys may cost in either placement,
    /// all maps together: about 45 ms of Lua's time.
    @usableFromInline static let probeBudget = 1 << 24

    /// Nodes of the hash part (0: the map is not followed).
    @usableFromInline let size: Int
    /// Keys per bucket, `size` counters for each placement (modulo first), made at the first
    /// number key.
    @usableFromInline var counts: UnsafeMutablePointer<UInt32>?

    /// The chains of a map of `count` pairs.
    @inlinable
    init(count: Int) {
        size = count >= LuaKeyChains.minimumCount ? 1 << (Int.bitWidth &- (count &- 1).leadingZeroBitCount) : 0
        counts = nil
    }

    /// Frees the counters.
    @inlinable
    mutating func release() {
        counts?.deallocate()
        counts = nil
    }

    /// Records an integer key; returns the keys already in its bucket in each placement (the
    /// probes its insertion makes past the first).
    @inlinable
    mutating func insert(integer key: Int64) -> (modulo: Int, powerOfTwo: Int) {
        let bits = UInt64(bitPattern: key)
        return insert(modulo: Int(bits % UInt64((size &- 1) | 1)), powerOfTwo: Int(bits & UInt64(size &- 1)))
    }

    /// Records a float key (not NaN); returns as `insert(integer:)` does.
    @inlinable
    mutating func insert(float key: Double) -> (modulo: Int, powerOfTwo: Int) {
        if let integer = Int64(exactly: key) { return insert(integer: integer) }
        let bucket = LuaKeyChains.floatHash(key) % ((size &- 1) | 1)
        return insert(modulo: bucket, powerOfTwo: bucket)
    }

    /// Counts a key in its two buckets; returns the counts before it.
    @inlinable
    mutating func insert(modulo: Int, powerOfTwo: Int) -> (modulo: Int, powerOfTwo: Int) {
        let counts = self.counts ?? makeCounts()
        let before = (Int(counts[modulo]), Int(counts[size &+ powerOfTwo]))
        counts[modulo] &+= 1
        counts[size &+ powerOfTwo] &+= 1
        return before
    }

    /// Makes the zeroed counters.
    @usableFromInline
    mutating func makeCounts() -> UnsafeMutablePointer<UInt32> {
        let made = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * size)
        made.initialize(repeating: 0, count: 2 * size)
        counts = made
        return made
    }

    /// Lua 5.4's `l_hashfloat`: the float's exponent plus its mantissa scaled to 31 bits, as a
    /// non-negative C int (0 for an infinity).
    @usableFromInline
    static func floatHash(_ value: Double) -> Int {
        var exponent: Int32 = 0
        let scaled = frexp(value, &exponent) * 2_147_483_648.0
        guard scaled.isFinite else { return 0 }
        let sum = UInt32(bitPattern: exponent) &+ UInt32(truncatingIfNeeded: Int64(scaled))
        return Int(sum <= UInt32(Int32.max) ? sum : ~sum)
    }
}
