// CodecFunctions: `network.Encode(table) -> string` and `network.Decode(string) -> table`.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Registers `Encode` and `Decode` into the module table on top of the stack.
/// - Parameter L: the Lua state.
/// Each holds the state's sentinel as upvalue 2, to find the binding cheaply on every call.
func registerCodecFunctions(_ L: OpaquePointer) {
    Binding.pushSentinel(L)
    mmnet_register_with_upvalue(L, "Encode", luaEncode)
    Binding.pushSentinel(L)
    mmnet_register_with_upvalue(L, "Decode", luaDecode)
}

/// The limits Encode and Decode apply (this state's `MaxDepth` and `MaxMessageSize`), and the
/// state's pool of large buffers (nil when mmnet could not start in it).
private func currentContext(_ L: OpaquePointer) -> (limits: CodecLimits, pool: BufferPool?) {
    guard let binding = Binding.held(by: L, at: mmnet_upvalueindex(2)) else { return (CodecLimits(), nil) }
    return (binding.codecLimits, binding.context?.buffers)
}

/// `network.Encode(table)`: the table's MessagePack bytes as a string, or nil and a message.
/// A non-table argument is a script error (argument error); refusals are returned.
private func luaEncode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TTABLE else {
        return argumentTypeError(L, 1, expected: "table")
    }
    let (limits, pool) = currentContext(L)
    let result = withEncodedTable(L, at: 1, rootName: "table", limits: limits, headroom: 0, pool: pool) { writer in
        writer.withBytes { bytes in
            _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
    }
    switch result {
    case .success: return 1
    case .failure(let error): return failure(L, error.message)
    }
}

/// `network.Decode(string)`: the table the bytes encode, or nil and a message.
/// A non-string argument is a script error (argument error); malformed bytes are returned.
private func luaDecode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TSTRING else {
        return argumentTypeError(L, 1, expected: "string")
    }
    var length = 0
    let bytes = UnsafeRawBufferPointer(start: lua_tolstring(L, 1, &length), count: length)
    if let error = pushDecodedValue(L, bytes, limits: currentContext(L).limits) { return failure(L, error.message) }
    return 1
}


