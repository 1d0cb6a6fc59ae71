// The Lua entry points: `luaopen_mmnet` (the drop-in `mmnet.so`) and `luaopen_mmnet_core`
// (the native half that the pure-Lua helper `mmnet.lua` loads).
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Builds the module table and leaves it on the stack.
private func openModule(_ L: OpaquePointer) -> Int32 {
    lua_createtable(L, 0, 16)
    lua_pushstring(L, "mmnet \(mmnetVersion)")
    lua_setfield(L, -2, "_VERSION")
    for kind in EventKind.allCases {
        lua_pushinteger(L, lua_Integer(kind.rawValue))
        lua_setfield(L, -2, kind.luaName)
    }
    registerCodecFunctions(L)
    return 1
}

/// Entry point for `require "mmnet"` when the library itself is installed as `mmnet.so`.
@_cdecl("luaopen_mmnet")
public func luaopen_mmnet(_ L: OpaquePointer) -> Int32 {
    openModule(L)
}

/// Entry point for `require "mmnet.core"`, loaded by the helper `mmnet.lua`.
@_cdecl("luaopen_mmnet_core")
public func luaopen_mmnet_core(_ L: OpaquePointer) -> Int32 {
    openModule(L)
}
