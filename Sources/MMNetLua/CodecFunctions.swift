// CodecFunctions: `network.Encode(table) -> string` and `network.Decode(string) -> table`.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Registers `Encode` and `Decode` into the module table on top of the stack. Each holds the
/// state's sentinel as upvalue 2, to find the binding cheaply on every call.
/// - Parameter L: the Lua state.
func registerCodecFunctions(_ L: OpaquePointer) {
    Binding.pushSentinel(L)
    mmnet_register_with_upvalue(L, "Encode", luaEncode)
    Binding.pushSentinel(L)
    mmnet_register_with_upvalue(L, "Decode", luaDecode)
}

/// `network.Encode(table)`: the table's MessagePack bytes as a string, or nil and a message.
/// A non-table argument is a script error (argument error); refusals are returned.
/// The limits are this state's `MaxDepth` and `MaxMessageSize` (the defaults once it closes).
private func luaEncode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TTABLE else {
        return argumentTypeError(L, 1, expected: "table")
    }
    let result = Binding.withHeld(by: L, at: mmnet_upvalueindex(2), closed: { pushEncoded(L, CodecLimits(), nil) }) { binding in
        binding.withBufferPool { pool in pushEncoded(L, binding.codecLimits, pool) }
    }
    switch result {
    case .success(.string): return 1
    case .success(.luaError): return MMNET_RETHROW
    case .failure(let error): return failure(L, error.message)
    }
}

/// What `pushEncoded` pushed.
private enum Pushed {
    /// The encoded string.
    case string
    /// The error Lua raised making it (out of memory).
    case luaError
}

/// Pushes the MessagePack bytes of the table at 1 as a string, under `limits`. Bytes that
/// outgrew the encoder's stack memory are in a heap buffer, which a memory error unwinding
/// this frame would leak: that string is made in protected mode.
private func pushEncoded(_ L: OpaquePointer, _ limits: CodecLimits, _ pool: BufferPool?) -> Result<Pushed, CodecError> {
    withEncodedTable(L, at: 1, rootName: "table", limits: limits, headroom: 0, pool: pool) { writer in
        let inScratch = writer.isInScratch
        return writer.withBytes { bytes in
            if inScratch {
                _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
                return .string
            }
            return pushProtected(L, bytes: bytes) ? .string : .luaError
        }
    }
}

/// `network.Decode(string)`: the table the bytes encode, or nil and a message.
/// A non-string argument is a script error (argument error); malformed bytes are returned.
/// Limits as for Encode; map keys go through the state's key cache.
private func luaDecode(_ state: OpaquePointer?) -> Int32 {
    let L = state!
    guard lua_type(L, 1) == LUA_TSTRING else {
        return argumentTypeError(L, 1, expected: "string")
    }
    var length = 0
    let bytes = UnsafeRawBufferPointer(start: lua_tolstring(L, 1, &length), count: length)
    let sentinel = mmnet_upvalueindex(2)
    let error = Binding.withHeld(by: L, at: sentinel, closed: { checkedDecode(L, bytes, limits: CodecLimits()) }) { binding in
        Binding.pushKeyTable(L, sentinel: sentinel)  // below the result: the top value is returned
        return checkedDecode(L, bytes, limits: binding.codecLimits, keys: binding.keys.pusher(table: lua_gettop(L)))
    }
    if let error { return failure(L, error.message) }
    return 1
}

/// Inputs of `Decode` longer than this are validated whole (`MessagePackValidator`, as a
/// received frame is on the I/O thread) before Lua makes any table of them: a hostile string
/// could otherwise make Lua build tables sized from counts declared at every level of its
/// nesting before the fault at its end is found (a 1 MiB one took 1 GB), or insert number
/// keys chosen to collide (`LuaKeyChains`). Below it, neither can cost much, and the
/// validator's pass would cost the small tables a third more time.
private let validatedDecodeSize = 4096

/// Decodes `bytes` onto the stack (`pushDecodedValue`), validated first when they are long.
private func checkedDecode(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer, limits: CodecLimits,
                           keys: KeyPusher? = nil) -> CodecError? {
    if bytes.count > validatedDecodeSize, let error = MessagePackValidator.validate(bytes, limits: limits) {
        return error
    }
    return pushDecodedValue(L, bytes, limits: limits, keys: keys)
}
