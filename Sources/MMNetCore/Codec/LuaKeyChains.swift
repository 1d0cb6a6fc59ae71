// LuaKeyChains: where Lua 5.4 puts a map's number keys in the hash part of the table the
// decoder makes for it, so that the validator can refuse keys chosen to collide. Lua hashes
// integers and floats without a seed: each key inserted walks the chain of keys already in
// its bucket, so n keys made to share one bucket cost n²/2 probes (20,000 of them, a 200 KB
// message, took the script 0.5 s; a 16 MiB map would take about an hour). Strings are hashed
// with a per-state random seed and are not followed.
//
// Thread: any (the reader's; a value type).
import Glibc
import Synchronization

/// How a Lua 5.4 places integer keys in a table's hash part.
public enum LuaIntegerPlacement: Int32, Sendable {
    /// Not known yet: both placements count.
    case unknown = 0
    /// Modulo the largest odd number below the size (Lua 5.4.4 and later).
    case modulo = 1
    /// The low bits (Lua 5.4.0 to 5.4.3).
    case lowBits = 2

    /// The placement of the Lua that loaded the module, for every state and thread of the
    /// process (there is one Lua in a process). Set by the binding at luaopen.
    public static var current: LuaIntegerPlacement {
        get { LuaIntegerPlacement(rawValue: stored.load(ordering: .relaxed)) ?? .unknown }
        set { stored.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// `current`'s raw value (an atomic in the library's own memory: nothing to free at unload).
    private static let stored = Atomic<Int32>(0)
}

/// The buckets of one map's number keys, in the table `lua_createtable(L, 0, count)` makes: a
/// hash part of the next power of two at or above `count` nodes. Lua 5.4 has two placements of
/// integer keys: 5.4.4 and later take an integer modulo the largest odd number below the size,
/// 5.4.0 to 5.4.3 its low bits. Both are followed, and the one of the Lua that loaded the
/// module (`LuaIntegerPlacement.current`, found at luaopen) is counted; until it is known, the worse;
/// floats (other than integral ones, which Lua stores as integers) go through `l_hashfloat` and
/// the modulo in both. The buckets of the keys actually read are recorded (8 bytes a key, in
/// memory from malloc that grows with them: never sized from a declared count) and counted
/// when the map ends.
@usableFromInline
struct LuaKeyChains {
    /// Maps with fewer pairs are not followed: their keys cost at most 21 extra probes.
    @usableFromInline static let minimumCount = 8
    /// Most probes past the first that one message's number keys may cost in either placement,
    /// all maps together: about 45 ms of Lua's time.
    @usableFromInline static let probeBudget = 1 << 24

    /// The probes of `probes` that Lua pays: those of its placement, or the worse when that is
    /// not known.
    @usableFromInline
    static func counted(_ probes: (modulo: Int, powerOfTwo: Int)) -> Int {
        switch LuaIntegerPlacement.current {
        case .modulo: return probes.modulo
        case .lowBits: return probes.powerOfTwo
        case .unknown: return max(probes.modulo, probes.powerOfTwo)
        }
    }

    /// Nodes of the hash part (0: the map is not followed).
    @usableFromInline let size: Int
    /// The keys' buckets in the modulo placement.
    @usableFromInline var modulo: UnsafeMutablePointer<UInt32>?
    /// The keys' buckets in the power-of-two placement.
    @usableFromInline var lowBits: UnsafeMutablePointer<UInt32>?
    /// Keys recorded.
    @usableFromInline var count = 0
    /// Keys there is room for.
    @usableFromInline var capacity = 0

    /// The chains of a map of `count` pairs (`follow` false: none, nothing recorded).
    @inlinable
    init(count: Int, follow: Bool) {
        size = follow && count >= LuaKeyChains.minimumCount ? 1 << (Int.bitWidth &- (count &- 1).leadingZeroBitCount) : 0
    }

    /// Frees the record.
    @inlinable
    mutating func release() {
        free(modulo)
        free(lowBits)
        modulo = nil
        lowBits = nil
    }

    /// Records an integer key; false when there was no memory for it.
    @inlinable
    mutating func insert(integer key: Int64) -> Bool {
        let bits = UInt64(bitPattern: key)
        return record(modulo: UInt32(bits % UInt64((size &- 1) | 1)), lowBits: UInt32(bits & UInt64(size &- 1)))
    }

    /// Records a float key (not NaN); false when there was no memory for it.
    @inlinable
    mutating func insert(float key: Double) -> Bool {
        if let integer = Int64(exactly: key) { return insert(integer: integer) }
        let bucket = UInt32(LuaKeyChains.floatHash(key) % ((size &- 1) | 1))
        return record(modulo: bucket, lowBits: bucket)
    }

    /// Appends a key's two buckets, growing the record by doubling.
    @usableFromInline
    mutating func record(modulo bucket: UInt32, lowBits lowBucket: UInt32) -> Bool {
        if count == capacity {
            let grown = max(16, capacity * 2)
            let bytes = grown * MemoryLayout<UInt32>.size
            guard let moduloMemory = realloc(modulo, bytes) else { return false }
            modulo = moduloMemory.assumingMemoryBound(to: UInt32.self)
            guard let lowMemory = realloc(lowBits, bytes) else { return false }
            lowBits = lowMemory.assumingMemoryBound(to: UInt32.self)
            capacity = grown
        }
        modulo![count] = bucket
        lowBits![count] = lowBucket
        count += 1
        return true
    }

    /// The probes past the first that inserting the recorded keys costs Lua, in each placement:
    /// for each bucket of c keys, 0 + 1 + ... + (c - 1). Sorts the record.
    @usableFromInline
    func probes() -> (modulo: Int, powerOfTwo: Int) {
        /// Sorts one placement's buckets and sums its chains.
        func chains(_ buckets: UnsafeMutablePointer<UInt32>?) -> Int {
            guard let buckets, count > 1 else { return 0 }
            var sorted = UnsafeMutableBufferPointer(start: buckets, count: count)
            sorted.sort()
            var total = 0
            var run = 1
            for i in 1..<count {
                if sorted[i] == sorted[i - 1] {
                    total += run
                    run += 1
                } else {
                    run = 1
                }
            }
            return total
        }
        return (chains(modulo), chains(lowBits))
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
