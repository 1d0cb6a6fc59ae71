// LuaDecoder: decodes MessagePack bytes straight onto the Lua stack, with no value tree between.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Decodes one message and pushes it.
/// - Parameters:
///   - L: the Lua state.
///   - bytes: one MessagePack message body (a map or array, nothing after it).
///   - limits: nesting and size limits.
///   - keys: the state's cache of map keys, with its table on the stack (nil: none).
/// - Returns: nil after pushing exactly one value; otherwise the reason, with the stack exactly
///   as it was before the call.
func pushDecodedValue(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer, limits: CodecLimits,
                      keys: KeyPusher? = nil) -> CodecError? {
    let top = lua_gettop(L)
    guard lua_checkstack(L, 4) != 0 else { return DecodeProblem.stackExhausted.error }
    var visitor = LuaStackVisitor(L: L, keys: keys)
    do {
        try MessagePackReader.read(bytes, limits: limits, visitor: &visitor)
        return nil
    } catch {
        lua_settop(L, top)
        return error
    }
}

/// A `MessagePackVisitor` that pushes each value onto the Lua stack and stores it into the
/// table below it: containers are created with size hints already checked against the input.
struct LuaStackVisitor: MessagePackVisitor {
    /// The Lua state being pushed onto.
    let L: OpaquePointer
    /// Pushes map keys through the state's key cache (nil: plain pushes).
    let keys: KeyPusher?

    /// Pushes nil.
    @inline(__always) mutating func visitNil() { lua_pushnil(L) }
    /// Pushes a boolean.
    @inline(__always) mutating func visitBool(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    /// Pushes an integer.
    @inline(__always) mutating func visitInt(_ value: Int64) { lua_pushinteger(L, value) }
    /// Pushes a float.
    @inline(__always) mutating func visitFloat(_ value: Double) { lua_pushnumber(L, value) }
    /// Pushes the bytes as a Lua string.
    @inline(__always) mutating func visitString(_ bytes: UnsafeRawBufferPointer) {
        _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }
    /// Pushes a map key's bytes as a Lua string, through the key cache when there is one.
    @inline(__always) mutating func visitKeyString(_ bytes: UnsafeRawBufferPointer) {
        if let keys { keys.push(L, bytes) } else { visitString(bytes) }
    }

    /// Creates the array's table, after making room on the stack for it, a key and a value.
    @inline(__always) mutating func beginArray(count: Int) throws(CodecError) {
        guard lua_checkstack(L, 3) != 0 else { throw DecodeProblem.stackExhausted.error }
        lua_createtable(L, Int32(clamping: count), 0)
    }

    /// Stores the value on top into the array below it.
    @inline(__always) mutating func endArrayElement(index: Int) { lua_rawseti(L, -2, lua_Integer(index)) }
    /// Nothing to do: the array's table is on top.
    @inline(__always) mutating func endArray() {}

    /// Creates the map's table, after making room on the stack for it, a key and a value.
    @inline(__always) mutating func beginMap(count: Int) throws(CodecError) {
        guard lua_checkstack(L, 3) != 0 else { throw DecodeProblem.stackExhausted.error }
        lua_createtable(L, 0, Int32(clamping: count))
    }

    /// Stores the key and value on top into the map below them.
    @inline(__always) mutating func endMapEntry() { lua_rawset(L, -3) }
    /// Nothing to do: the map's table is on top.
    @inline(__always) mutating func endMap() {}
}
