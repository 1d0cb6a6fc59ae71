// MessagePackReader: walks MessagePack bytes once, checking every length against what remains,
// and reports each value to a visitor.
//
// Thread: any (the validator runs it on the I/O thread, the Lua decoder on the Lua thread).

/// A bounds-checked, single-pass MessagePack reader.
///
/// Rules: the root must be a map or array; containers nest at most `limits.maxDepth` deep (the
/// root is depth 1); the input is at most `limits.maxSize` bytes and holds exactly one value;
/// declared counts and lengths are checked against the remaining bytes before the visitor sees
/// them; nil and NaN map keys, extension types, 0xc1 and uint64 above Int64.max are refused, and
/// so are number keys that would collide in Lua's tables past `LuaKeyChains.probeBudget`.
/// Strings are not checked for UTF-8 (Lua strings are bytes). `@inlinable` so that each visitor
/// gets a specialised copy in the module that uses it.
@frozen
public struct MessagePackReader {
    /// First byte of the input.
    @usableFromInline let start: UnsafeRawPointer
    /// Offset of the next byte to read.
    @usableFromInline var position: Int
    /// Number of bytes in the input.
    @usableFromInline let end: Int
    /// Deepest nesting accepted.
    @usableFromInline let maxDepth: Int
    /// Whether the number keys of maps are followed into Lua's tables (`LuaKeyChains`).
    @usableFromInline let followsKeys: Bool
    /// Probes past the first that the number keys of the maps read so far cost Lua, in each of
    /// its placements.
    @usableFromInline var keyProbes: (modulo: Int, powerOfTwo: Int) = (0, 0)
    /// The number keys of the map being read (`readMap` swaps each map's in and out).
    @usableFromInline var chains = LuaKeyChains(count: 0, follow: false)

    /// A reader at the first of `count` bytes at `start`.
    @inlinable
    init(start: UnsafeRawPointer, count: Int, maxDepth: Int, followsKeys: Bool) {
        self.start = start
        self.position = 0
        self.end = count
        self.maxDepth = maxDepth
        self.followsKeys = followsKeys
    }

    /// Reads one message from `bytes`, reporting its values to `visitor`.
    /// - Parameters:
    ///   - bytes: the whole message body.
    ///   - limits: size and nesting limits.
    ///   - visitor: receives the values; on failure it may have seen part of the message.
    ///   - followingKeys: also refuse number keys chosen to collide in Lua's tables
    ///     (`LuaKeyChains`; the validator does, before any Lua table is made).
    /// - Throws: `CodecError` saying what is wrong and at which byte.
    @inlinable
    public static func read<V: MessagePackVisitor>(
        _ bytes: UnsafeRawBufferPointer, limits: CodecLimits, visitor: inout V, followingKeys: Bool = false
    ) throws(CodecError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw Self.fail(.empty) }
        guard bytes.count <= limits.maxSize else {
            throw Self.fail(.tooLarge(size: bytes.count, limit: limits.maxSize))
        }
        let marker = base.load(as: UInt8.self)
        switch marker {
        case 0x80...0x9F, 0xDC...0xDF: break
        default: throw Self.fail(.notATable(marker: marker))
        }
        var reader = MessagePackReader(start: base, count: bytes.count, maxDepth: limits.effectiveMaxDepth,
                                       followsKeys: followingKeys)
        try reader.readValue(depth: 1, isKey: false, visitor: &visitor)
        if reader.position != reader.end {
            throw Self.fail(.trailing(at: reader.position, count: reader.end - reader.position))
        }
    }

    /// The error for `problem`, built out of line so that the reader's frames stay small (the
    /// reader recurses once per nesting level) and its fast path holds no string code.
    @usableFromInline @inline(never)
    static func fail(_ problem: DecodeProblem) -> CodecError { problem.error }

    /// Bytes not read yet.
    @inlinable var remaining: Int { end &- position }

    /// Throws unless `n` more bytes remain after the marker at `markerAt`.
    @inlinable @inline(__always)
    func need(_ n: Int, markerAt: Int) throws(CodecError) {
        if _slowPath(n > remaining) {
            throw Self.fail(.truncated(at: markerAt, needed: n, remaining: remaining))
        }
    }

    /// Reads a big-endian integer of type T (bounds already checked).
    @inlinable @inline(__always)
    mutating func load<T: FixedWidthInteger>(_: T.Type) -> T {
        let value = T(bigEndian: start.loadUnaligned(fromByteOffset: position, as: T.self))
        position &+= MemoryLayout<T>.size
        return value
    }

    /// Reads a length of type T after the marker at `markerAt`.
    @inlinable @inline(__always)
    mutating func readLength<T: FixedWidthInteger>(_: T.Type, markerAt: Int) throws(CodecError) -> Int {
        try need(MemoryLayout<T>.size, markerAt: markerAt)
        return Int(load(T.self))
    }

    /// Reads one value whose marker is at `position`. `depth` is the depth a container here has.
    ///
    /// Nesting recurses through here, `readMap` and `readArray` only: their stack frames are
    /// small, so a message nested `maxDepth` deep takes 0.5 to 0.7 KiB of the calling thread's
    /// stack a level (release build). Every other value is read by `readScalar`, whose frame holds
    /// every kind of value and error (about 1 KiB) and is left before the next level starts.
    @inlinable
    mutating func readValue<V: MessagePackVisitor>(depth: Int, isKey: Bool, visitor: inout V) throws(CodecError) {
        let at = position
        try need(1, markerAt: at)
        let marker = start.load(fromByteOffset: at, as: UInt8.self)
        switch marker {
        case 0x80...0x8F:
            position &+= 1
            try readMap(Int(marker & 0x0F), at: at, depth: depth, visitor: &visitor)
        case 0x90...0x9F:
            position &+= 1
            try readArray(Int(marker & 0x0F), at: at, depth: depth, visitor: &visitor)
        case 0xDC:
            position &+= 1
            try readArray(try readLength(UInt16.self, markerAt: at), at: at, depth: depth, visitor: &visitor)
        case 0xDD:
            position &+= 1
            try readArray(try readLength(UInt32.self, markerAt: at), at: at, depth: depth, visitor: &visitor)
        case 0xDE:
            position &+= 1
            try readMap(try readLength(UInt16.self, markerAt: at), at: at, depth: depth, visitor: &visitor)
        case 0xDF:
            position &+= 1
            try readMap(try readLength(UInt32.self, markerAt: at), at: at, depth: depth, visitor: &visitor)
        default:
            try readScalar(isKey: isKey, visitor: &visitor)
        }
    }

    /// Reads one value that is not a container, whose marker is at `position` (checked to be
    /// there by `readValue`).
    @inlinable @inline(never)
    mutating func readScalar<V: MessagePackVisitor>(isKey: Bool, visitor: inout V) throws(CodecError) {
        let at = position
        let marker = load(UInt8.self)
        switch marker {
        case 0x00...0x7F:
            try visitInt(Int64(marker), at: at, isKey: isKey, visitor: &visitor)
        case 0xE0...0xFF:
            try visitInt(Int64(Int8(bitPattern: marker)), at: at, isKey: isKey, visitor: &visitor)
        case 0xA0...0xBF:
            try readBytes(Int(marker & 0x1F), at: at, isKey: isKey, visitor: &visitor)
        case 0xC0:
            if isKey { throw Self.fail(.nilKey(at: at)) }
            try visitor.visitNil()
        case 0xC2:
            try visitor.visitBool(false)
        case 0xC3:
            try visitor.visitBool(true)
        case 0xC4, 0xD9:
            try readBytes(try readLength(UInt8.self, markerAt: at), at: at, isKey: isKey, visitor: &visitor)
        case 0xC5, 0xDA:
            try readBytes(try readLength(UInt16.self, markerAt: at), at: at, isKey: isKey, visitor: &visitor)
        case 0xC6, 0xDB:
            try readBytes(try readLength(UInt32.self, markerAt: at), at: at, isKey: isKey, visitor: &visitor)
        case 0xCA:
            try need(4, markerAt: at)
            try visitFloat(Double(Float(bitPattern: load(UInt32.self))), at: at, isKey: isKey, visitor: &visitor)
        case 0xCB:
            try need(8, markerAt: at)
            try visitFloat(Double(bitPattern: load(UInt64.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xCC:
            try need(1, markerAt: at); try visitInt(Int64(load(UInt8.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xCD:
            try need(2, markerAt: at); try visitInt(Int64(load(UInt16.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xCE:
            try need(4, markerAt: at); try visitInt(Int64(load(UInt32.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xCF:
            try need(8, markerAt: at)
            let value = load(UInt64.self)
            if value > UInt64(Int64.max) { throw Self.fail(.uintOutOfRange(at: at)) }
            try visitInt(Int64(value), at: at, isKey: isKey, visitor: &visitor)
        case 0xD0:
            try need(1, markerAt: at); try visitInt(Int64(load(Int8.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xD1:
            try need(2, markerAt: at); try visitInt(Int64(load(Int16.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xD2:
            try need(4, markerAt: at); try visitInt(Int64(load(Int32.self)), at: at, isKey: isKey, visitor: &visitor)
        case 0xD3:
            try need(8, markerAt: at); try visitInt(load(Int64.self), at: at, isKey: isKey, visitor: &visitor)
        case 0xC1:
            throw Self.fail(.neverUsed(at: at))
        case 0x80...0x9F, 0xDC...0xDF:
            preconditionFailure("containers are read by readValue")
        default: // 0xC7...0xC9 ext, 0xD4...0xD8 fixext
            throw Self.fail(.ext(at: at, marker: marker))
        }
    }

    /// Reads one element of a container: the small integers and short strings that make up
    /// most messages here, without the call to `readValue` (whose frame is large: it holds
    /// every kind of value and error), and anything else through it.
    @inlinable @inline(__always)
    mutating func readElement<V: MessagePackVisitor>(depth: Int, isKey: Bool, visitor: inout V) throws(CodecError) {
        if _fastPath(position < end) {
            let marker = start.load(fromByteOffset: position, as: UInt8.self)
            if marker < 0x80 {
                let at = position
                position &+= 1
                return try visitInt(Int64(marker), at: at, isKey: isKey, visitor: &visitor)
            }
            if marker & 0xE0 == 0xA0 {
                let at = position
                position &+= 1
                return try readBytes(Int(marker & 0x1F), at: at, isKey: isKey, visitor: &visitor)
            }
        }
        try readValue(depth: depth, isKey: isKey, visitor: &visitor)
    }

    /// Reports an integer; a map key is also recorded in its map's `chains` when followed.
    @inlinable @inline(__always)
    mutating func visitInt<V: MessagePackVisitor>(_ value: Int64, at: Int, isKey: Bool, visitor: inout V) throws(CodecError) {
        if isKey && chains.size != 0 && !chains.insert(integer: value) { throw Self.fail(.outOfMemory(at: at)) }
        try visitor.visitInt(value)
    }

    /// Reports a float, refusing NaN as a map key; a map key is also recorded in its map's
    /// `chains` when followed.
    @inlinable @inline(__always)
    mutating func visitFloat<V: MessagePackVisitor>(_ value: Double, at: Int, isKey: Bool, visitor: inout V) throws(CodecError) {
        if isKey {
            if value.isNaN { throw Self.fail(.nanKey(at: at)) }
            if chains.size != 0 && !chains.insert(float: value) { throw Self.fail(.outOfMemory(at: at)) }
        }
        try visitor.visitFloat(value)
    }

    /// Reports `count` bytes of str or bin payload, as a map key when `isKey`.
    @inlinable @inline(__always)
    mutating func readBytes<V: MessagePackVisitor>(_ count: Int, at: Int, isKey: Bool, visitor: inout V) throws(CodecError) {
        try need(count, markerAt: at)
        let bytes = UnsafeRawBufferPointer(start: start + position, count: count)
        position &+= count
        if isKey { try visitor.visitKeyString(bytes) } else { try visitor.visitString(bytes) }
    }

    /// Reads an array of `count` elements whose header starts at `at`.
    @inlinable @inline(never)
    mutating func readArray<V: MessagePackVisitor>(_ count: Int, at: Int, depth: Int, visitor: inout V) throws(CodecError) {
        if depth > maxDepth { throw Self.fail(.tooDeep(at: at, limit: maxDepth)) }
        // Every element takes at least one byte.
        if count > remaining {
            throw Self.fail(.countTooLarge(at: at, isMap: false, count: count, remaining: remaining))
        }
        try visitor.beginArray(count: count)
        var index = 1
        while index <= count {
            try readElement(depth: depth &+ 1, isKey: false, visitor: &visitor)
            try visitor.endArrayElement(index: index)
            index &+= 1
        }
        visitor.endArray()
    }

    /// Reads a map of `count` pairs whose header starts at `at`.
    @inlinable @inline(never)
    mutating func readMap<V: MessagePackVisitor>(_ count: Int, at: Int, depth: Int, visitor: inout V) throws(CodecError) {
        if depth > maxDepth { throw Self.fail(.tooDeep(at: at, limit: maxDepth)) }
        // Every key and every value takes at least one byte.
        if count > remaining / 2 {
            throw Self.fail(.countTooLarge(at: at, isMap: true, count: count, remaining: remaining))
        }
        try visitor.beginMap(count: count)
        // This map's chains in, the enclosing map's out until this one ends.
        var enclosing = LuaKeyChains(count: count, follow: followsKeys)
        swap(&enclosing, &chains)
        defer {
            swap(&enclosing, &chains)
            enclosing.release()
        }
        var pairs = 0
        while pairs < count {
            try readElement(depth: depth &+ 1, isKey: true, visitor: &visitor)
            try readElement(depth: depth &+ 1, isKey: false, visitor: &visitor)
            try visitor.endMapEntry()
            pairs &+= 1
        }
        if chains.count > 1 { try countProbes(mapAt: at) }
        visitor.endMap()
    }

    /// Adds the probes of the number keys of the map just read (`chains`, its header at
    /// `mapAt`) to the message's; throws once they cost more than `LuaKeyChains.probeBudget`.
    @inlinable @inline(never)
    mutating func countProbes(mapAt: Int) throws(CodecError) {
        let probes = chains.probes()
        keyProbes.modulo &+= probes.modulo
        keyProbes.powerOfTwo &+= probes.powerOfTwo
        if LuaKeyChains.counted(keyProbes) > LuaKeyChains.probeBudget {
            throw Self.fail(.collidingKeys(at: mapAt, limit: LuaKeyChains.probeBudget))
        }
    }
}
