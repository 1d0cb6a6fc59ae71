// KeyCache: the short map keys decoded lately, kept as Lua strings, so that decoding one again
// pushes the string Lua already has instead of hashing and interning its bytes anew.
//
// Thread: Lua thread only.
import CLuaShim

/// A direct-mapped cache of the map keys of 1 to 32 bytes that `Decode` and `PollEvents` push.
///
/// Messages mostly repeat their field names (`OpCode`, `Data`, `Seq`): `lua_pushlstring` hashes
/// a short string and looks it up in Lua's string table every time, where a hit here costs a
/// few word compares and one `lua_rawgeti`. The strings live in a Lua table (array part, one
/// slot per entry; the state's sentinel holds it as its user value, so it lives as long as the
/// state's binding) and the entries here say which bytes each slot holds. Values are not
/// cached: they repeat far less, and a miss costs more than a plain push.
///
/// A hostile peer can only make keys miss (each slot holds one key, no chains): a miss costs one
/// plain push and one `lua_rawseti` more, and the cache never grows. Non-copyable: it owns its
/// entries (a struct, so that reaching them from the binding counts no reference).
struct KeyCache: ~Copyable {
    /// Bits of a hash that pick a slot.
    static let slotBits = 8
    /// Number of slots.
    static let slotCount = 1 << slotBits
    /// Longest key cached, in bytes (four overlapping 8-byte words describe it exactly).
    static let maxLength = 32

    /// What one slot holds: the key's length (0: empty) and the words `KeyWords` read from it.
    fileprivate struct Entry {
        var length = 0
        var words = KeyWords()
    }

    /// The entries, one per slot of the table.
    private let entries: UnsafeMutablePointer<Entry>

    /// An empty cache; `pushTable` makes its Lua side.
    init() {
        entries = .allocate(capacity: KeyCache.slotCount)
        entries.initialize(repeating: Entry(), count: KeyCache.slotCount)
    }

    deinit { entries.deallocate() }

    /// Pushes a new table for the cache's strings: its array part has a slot for every entry,
    /// so storing into it never allocates.
    static func pushTable(_ L: OpaquePointer) {
        lua_createtable(L, Int32(slotCount), 0)
    }

    /// The cache as one decode uses it, with its table at absolute stack index `table`.
    func pusher(table: Int32) -> KeyPusher {
        KeyPusher(entries: entries, table: table)
    }
}

/// Pushes map keys through a `KeyCache` whose table is on the stack. Valid while the cache and
/// the table's stack slot are (one `Decode` or `PollEvents` call).
struct KeyPusher {
    /// The cache's entries.
    fileprivate let entries: UnsafeMutablePointer<KeyCache.Entry>
    /// Absolute stack index of the cache's table.
    let table: Int32

    /// Pushes the string `bytes` (taken from the cache when it holds them; otherwise pushed
    /// and remembered in the slot their hash picks). Needs two free stack slots.
    @inline(__always)
    func push(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count >= 1 && count <= KeyCache.maxLength, let start = bytes.baseAddress else {
            _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), count)
            return
        }
        let words = KeyWords(start, count: count)
        let slot = words.slot(count: count)
        let entry = entries + slot
        if entry.pointee.length == count && entry.pointee.words == words {
            lua_rawgeti(L, table, lua_Integer(slot &+ 1))
            return
        }
        _ = lua_pushlstring(L, start.assumingMemoryBound(to: CChar.self), count)
        lua_pushvalue(L, -1)
        lua_rawseti(L, table, lua_Integer(slot &+ 1))
        entry.pointee = KeyCache.Entry(length: count, words: words)
    }
}

/// Four 8-byte words that, with its length, determine a string of 1 to 32 bytes exactly: from
/// 8 bytes on, the words at offsets 0, 8 and 16 (or the last eight bytes, where the string is
/// shorter) and the last eight bytes; below 8, two overlapping halves or three single bytes
/// packed into the first word. Read without touching a byte past the string.
struct KeyWords: Equatable {
    private var w0: UInt64 = 0
    private var w1: UInt64 = 0
    private var w2: UInt64 = 0
    private var w3: UInt64 = 0

    /// No words (an empty entry).
    init() {}

    /// The words of the `count` bytes (1 to 32) at `start`.
    @inline(__always)
    init(_ start: UnsafeRawPointer, count: Int) {
        if count >= 8 {
            let last = count &- 8
            w0 = start.loadUnaligned(as: UInt64.self)
            w1 = start.loadUnaligned(fromByteOffset: min(8, last), as: UInt64.self)
            w2 = start.loadUnaligned(fromByteOffset: min(16, last), as: UInt64.self)
            w3 = start.loadUnaligned(fromByteOffset: last, as: UInt64.self)
        } else if count >= 4 {
            w0 = UInt64(start.loadUnaligned(as: UInt32.self))
                | UInt64(start.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)) << 32
        } else {
            w0 = UInt64(start.load(as: UInt8.self))
                | UInt64(start.load(fromByteOffset: count >> 1, as: UInt8.self)) << 8
                | UInt64(start.load(fromByteOffset: count &- 1, as: UInt8.self)) << 16
        }
    }

    /// The slot these words (of a string of `count` bytes) go to.
    @inline(__always)
    func slot(count: Int) -> Int {
        let mixed = (w0 ^ (w3 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: count)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: mixed >> UInt64(64 - KeyCache.slotBits))
    }
}
