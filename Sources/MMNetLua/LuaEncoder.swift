// LuaEncoder: walks a table on the Lua stack and writes its MessagePack encoding.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Encodes the table at `index` into MessagePack, after `headroom` zero bytes, and hands the
/// finished writer (headroom included) to `body`, which may fill in the headroom and take the
/// bytes (`ByteWriter.take`).
/// - Parameters:
///   - L: the Lua state; its stack is left exactly as it was.
///   - index: stack index of the table (relative or absolute).
///   - rootName: how error paths name the table ("packet" for Send, "table" for Encode).
///   - limits: nesting and size limits (the size limit counts the MessagePack part only).
///   - headroom: zero bytes reserved in front for a frame header.
///   - pool: where a large output buffer comes from and goes back to.
///   - body: reads the bytes (must not keep a pointer to them past its return), or takes them.
/// - Returns: what `body` returns, or why the table cannot be sent (naming where in it).
func withEncodedTable<R>(
    _ L: OpaquePointer, at index: Int32, rootName: String, limits: CodecLimits, headroom: Int,
    pool: BufferPool?, _ body: (inout ByteWriter) -> R
) -> Result<R, CodecError> {
    withEncodedTable(L, at: index, rootName: rootName, limits: limits, headroom: headroom, pool: pool,
                     lending: nil) { writer, _ in body(&writer) }
}

/// `withEncodedTable`, lending the strings of `Loan.minimumSize` bytes and more to `book`
/// instead of copying them: the writer then holds everything else, and `body` gets the lent
/// strings as splices (ascending offsets into the writer's bytes). With no book, none is lent.
func withEncodedTable<R>(
    _ L: OpaquePointer, at index: Int32, rootName: String, limits: CodecLimits, headroom: Int,
    pool: BufferPool?, lending book: LoanBook?, _ body: (inout ByteWriter, [Splice]) -> R
) -> Result<R, CodecError> {
    let absolute = lua_absindex(L, index)
    guard lua_type(L, absolute) == LUA_TTABLE else {
        let typeName = String(cString: lua_typename(L, lua_type(L, absolute)))
        return .failure(CodecError(message: "\(rootName): a table is expected, got \(typeName)"))
    }
    let top = lua_gettop(L)
    let maxDepth = limits.effectiveMaxDepth
    // The first bytes and the ancestor list live on the stack: no allocation for small tables.
    return withUnsafeTemporaryAllocation(byteCount: scratchSize, alignment: 8) { scratch in
        withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: maxDepth + 1) { ancestors in
            var encoder = LuaTableEncoder(
                L: L, writer: ByteWriter(scratch: scratch, limit: headroom + max(0, limits.maxSize), pool: pool),
                maxDepth: maxDepth, maxSize: limits.maxSize, ancestors: ancestors.baseAddress!, book: book)
            do throws(EncodeFailure) {
                try encoder.writeHeadroom(headroom)
                try encoder.encodeTable(at: absolute, depth: 1)
            } catch {
                lua_settop(L, top)
                return .failure(error.codecError(rootName: rootName))
            }
            return .success(body(&encoder.writer, encoder.splices))
        }
    }
}

/// Bytes of stack memory an encoding starts in before it moves to the heap.
private let scratchSize = 1024

/// The state of one encoding: the Lua state, the output, and the tables on the current path.
struct LuaTableEncoder: ~Copyable {
    /// The Lua state whose stack holds the table.
    let L: OpaquePointer
    /// The output.
    var writer: ByteWriter
    /// Deepest nesting allowed.
    let maxDepth: Int
    /// Size limit, for the error message.
    let maxSize: Int
    /// `lua_topointer` of each table from the root down to the one being written (cycle check).
    let ancestors: UnsafeMutablePointer<UnsafeRawPointer?>
    /// Where large strings are lent (nil: every string is copied). Not retained: the caller
    /// of `withEncodedTable` holds it for the encoding.
    unowned(unsafe) let book: LoanBook?
    /// The strings lent so far, where they go in the writer's bytes (their bytes count against
    /// the writer's limit: `ByteWriter.reserveOutside`).
    var splices: [Splice] = []

    /// The error for a write past the size limit.
    func tooLarge() -> EncodeFailure {
        EncodeFailure(reason: "encoded message is larger than the limit of \(maxSize) bytes", aboutWholeMessage: true)
    }

    /// Writes the zero bytes reserved for a frame header.
    mutating func writeHeadroom(_ count: Int) throws(EncodeFailure) {
        do throws(ByteWriterOverflow) { try writer.writeZeros(count) } catch { throw tooLarge() }
    }

    /// Writes the value at absolute stack index `index`; a table found here has depth `depth`.
    @inline(__always)
    mutating func encodeValue(at index: Int32, depth: Int, isKey: Bool) throws(EncodeFailure) {
        let type = lua_type(L, index)
        if type == LUA_TTABLE { return try encodeTable(at: index, depth: depth) }
        let written: Bool
        do throws(ByteWriterOverflow) {
            written = try writeScalar(at: index, type: type)
        } catch {
            throw tooLarge()
        }
        if !written { throw unsupported(type: type, isKey: isKey) }
    }

    /// Writes a string, number, boolean or nil; returns false for any other type.
    @inline(__always)
    mutating func writeScalar(at index: Int32, type: Int32) throws(ByteWriterOverflow) -> Bool {
        switch type {
        case LUA_TSTRING:
            var length = 0
            let bytes = lua_tolstring(L, index, &length)!
            if length >= Loan.minimumSize, let book {
                try lend(bytes, count: length, at: index, to: book)
            } else {
                try writer.writeString(bytes, count: length)
            }
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 {
                try writer.writeInt(lua_tointegerx(L, index, nil))
            } else {
                try writer.writeDouble(lua_tonumberx(L, index, nil))
            }
        case LUA_TBOOLEAN:
            try writer.writeBool(lua_toboolean(L, index) != 0)
        case LUA_TNIL:
            try writer.writeNil()
        default:
            return false
        }
        return true
    }

    /// Writes the header of the string at `index` and lends its bytes instead of copying them
    /// (copies them when no slot is free to keep the string for the loan: `lendString`).
    mutating func lend(_ bytes: UnsafePointer<CChar>, count: Int, at index: Int32, to book: LoanBook) throws(ByteWriterOverflow) {
        // The bytes first: a string that cannot fit is refused before it is validated.
        try writer.reserveOutside(count)
        try writer.writeStringHeader(bytes, count: count)
        guard let loan = lendString(L, at: index, bytes: bytes, count: count, book: book) else {
            writer.cancelReserveOutside(count)
            return try writer.write(bytes, count: count)
        }
        splices.append(Splice(offset: writer.count, block: ByteBlock(lent: loan)))
    }

    /// The refusal of a value (or key) of a type MessagePack messages cannot carry.
    func unsupported(type: Int32, isKey: Bool) -> EncodeFailure {
        let name: String
        switch type {
        case LUA_TLIGHTUSERDATA: name = "light userdata"
        default: name = String(cString: lua_typename(L, type))
        }
        return EncodeFailure(reason: "\(name) \(isKey ? "keys" : "values") cannot be sent")
    }

    /// Writes the table at absolute index `index` as an array (keys exactly 1..n, n > 0) or a map.
    mutating func encodeTable(at index: Int32, depth: Int) throws(EncodeFailure) {
        if depth > maxDepth {
            throw EncodeFailure(reason: "tables nested deeper than \(maxDepth) levels cannot be sent")
        }
        let identity = lua_topointer(L, index)
        var level = 0
        while level < depth &- 1 {
            if ancestors[level] == identity {
                throw EncodeFailure(reason: "cycles cannot be sent (this table contains itself)")
            }
            level &+= 1
        }
        ancestors[depth - 1] = identity
        guard lua_checkstack(L, 4) != 0 else {
            throw EncodeFailure(reason: "tables nested too deep for the Lua stack")
        }
        let base = lua_gettop(L)

        let n = Int64(lua_rawlen(L, index))
        if n == 0 {
            // No border: never an array. Count while writing and patch the header after.
            let slot: Int
            do throws(ByteWriterOverflow) { slot = try writer.writeMapHeaderPlaceholder() } catch { throw tooLarge() }
            let firstSplice = splices.count
            let count = try writeMapEntries(of: index, base: base, depth: depth)
            try patchMapHeader(at: slot, count: count, firstSplice: firstSplice)
            return
        }

        // One pass to count entries and entries whose key is an integer in 1...n.
        var total = 0
        var inRange: Int64 = 0
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            total &+= 1
            if lua_isinteger(L, -2) != 0 {
                let key = lua_tointegerx(L, -2, nil)
                if key >= 1 && key <= n { inRange &+= 1 }
            }
            lua_settop(L, -2)
        }

        if inRange == n && Int64(total) == n {
            try writeHeader(array: true, count: total)
            var position: Int64 = 1
            while position <= n {
                lua_rawgeti(L, index, position)
                do throws(EncodeFailure) {
                    try encodeValue(at: base + 1, depth: depth + 1, isKey: false)
                } catch {
                    lua_settop(L, base)
                    throw error.adding("[\(position)]")
                }
                lua_settop(L, base)
                position &+= 1
            }
        } else {
            try writeHeader(array: false, count: total)
            _ = try writeMapEntries(of: index, base: base, depth: depth)
        }
    }

    /// Writes every key-value pair of the table at `index` (with `base` the stack top before);
    /// returns how many pairs were written.
    @inline(__always)
    mutating func writeMapEntries(of index: Int32, base: Int32, depth: Int) throws(EncodeFailure) -> Int {
        var count = 0
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            let keyIndex = base + 1
            do throws(EncodeFailure) {
                try encodeValue(at: keyIndex, depth: depth + 1, isKey: true)
            } catch {
                let isTableKey = lua_type(L, keyIndex) == LUA_TTABLE
                lua_settop(L, base)
                throw isTableKey ? error.adding("[table]") : error
            }
            do throws(EncodeFailure) {
                try encodeValue(at: keyIndex + 1, depth: depth + 1, isKey: false)
            } catch {
                let segment = pathSegment(key: keyIndex)
                lua_settop(L, base)
                throw error.adding(segment)
            }
            lua_settop(L, keyIndex)
            count &+= 1
        }
        return count
    }

    /// Writes an array or map header.
    @inline(__always)
    mutating func writeHeader(array: Bool, count: Int) throws(EncodeFailure) {
        do throws(ByteWriterOverflow) {
            if array { try writer.writeArrayHeader(count) } else { try writer.writeMapHeader(count) }
        } catch {
            throw tooLarge()
        }
    }

    /// Patches the header of a map written with a placeholder (`slot`) to `count` pairs. A
    /// map16 or map32 header moves the pairs right, and with them the strings lent among them
    /// (the splices from `firstSplice` on). Not inlined: the recursive frames of `encodeTable`
    /// and `encodeValue` stay small (a message 1000 levels deep must fit in a small stack).
    @inline(never)
    mutating func patchMapHeader(at slot: Int, count: Int, firstSplice: Int) throws(EncodeFailure) {
        let unpatched = writer.count
        do throws(ByteWriterOverflow) { try writer.patchMapHeader(at: slot, count: count) } catch { throw tooLarge() }
        let shift = writer.count &- unpatched
        guard shift != 0 else { return }
        for i in firstSplice..<splices.count {
            splices[i] = Splice(offset: splices[i].offset &+ shift, block: splices[i].block)
        }
    }

    /// The path segment naming the key at absolute index `key` (error path only).
    func pathSegment(key: Int32) -> String {
        switch lua_type(L, key) {
        case LUA_TSTRING:
            var length = 0
            let bytes = lua_tolstring(L, key, &length)!
            return MMNetLua.pathSegment(stringKey: bytes, count: length)
        case LUA_TNUMBER:
            if lua_isinteger(L, key) != 0 { return "[\(lua_tointegerx(L, key, nil))]" }
            let number = lua_tonumberx(L, key, nil)
            // As Lua source would write them: "inf" would read as a variable's name.
            if number.isInfinite { return number > 0 ? "[1/0]" : "[-1/0]" }
            return "[\(number)]"
        case LUA_TBOOLEAN:
            return lua_toboolean(L, key) != 0 ? "[true]" : "[false]"
        default:
            return "[table]"
        }
    }
}

extension EncodeFailure {
    /// This failure with one more path segment, outside the ones it has.
    func adding(_ segment: String) -> EncodeFailure {
        var copy = self
        copy.segments.append(segment)
        return copy
    }
}
