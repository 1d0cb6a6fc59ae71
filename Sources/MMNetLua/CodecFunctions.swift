// CodecFunctions: `network.Encode(table) -> string` and `network.Decode(string) -> table`.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Registers `Encode` and `Decode` into the module table on top of the stack.
/// - Parameter L: the Lua state.
func registerCodecFunctions(_ L: OpaquePointer) {
    mmnet_register(L, "Encode", luaEncode)
    mmnet_register(L, "Decode", luaDecode)
}

/// The limits Encode and Decode apply (per-state settings arrive with `network.Configure`).
private func currentLimits(_ L: OpaquePointer) -> CodecLimits { CodecLimits() }

/// `network.Encode(table)`: the table's MessagePack bytes as a string, or nil and a message.
/// A non-table argument is a script error (argument error); refusals are returned.
private func luaEncode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TTABLE else {
        lua_pushstring(L, "table expected, got \(luaTypeName(L, at: 1))")
        return mmnet_argerror_status(1)
    }
    let result = withEncodedTable(L, at: 1, rootName: "table", limits: currentLimits(L), headroom: 0) { writer in
        writer.withBytes { bytes in
            _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
    }
    switch result {
    case .success: return 1
    case .failure(let error): return pushFailure(L, error)
    }
}

/// `network.Decode(string)`: the table the bytes encode, or nil and a message.
/// A non-string argument is a script error (argument error); malformed bytes are returned.
private func luaDecode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TSTRING else {
        lua_pushstring(L, "string expected, got \(luaTypeName(L, at: 1))")
        return mmnet_argerror_status(1)
    }
    var length = 0
    let bytes = UnsafeRawBufferPointer(start: lua_tolstring(L, 1, &length), count: length)
    if let error = pushDecodedValue(L, bytes, limits: currentLimits(L)) { return pushFailure(L, error) }
    return 1
}

/// Pushes nil and the error's message; returns 2, the number of results.
private func pushFailure(_ L: OpaquePointer, _ error: CodecError) -> Int32 {
    lua_pushnil(L)
    lua_pushstring(L, error.message)
    return 2
}

/// The type name of the value at `index`, "no value" when there is none.
private func luaTypeName(_ L: OpaquePointer, at index: Int32) -> String {
    String(cString: lua_typename(L, lua_type(L, index)))
}
