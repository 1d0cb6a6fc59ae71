// The Lua entry points: `luaopen_mmnet` (the drop-in `mmnet.so`) and `luaopen_mmnet_core`
// (the native half that the pure-Lua helper `mmnet.lua` loads); both build the same table.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// The module's functions.
private let moduleFunctions: [(String, mmnet_Function)] = [
    ("Server", serverNew),
    ("Client", clientNew),
    ("PollEvents", pollEvents),
    ("Configure", configure),
    ("GetStats", moduleGetStats),
    ("GetEventDescriptor", moduleGetEventDescriptor),
]

/// Opens mmnet in this state (its binding and I/O thread use) and leaves the module table on
/// the stack. Never raises: a failure to start the I/O thread is reported by the functions.
private func openModule(_ L: OpaquePointer) -> Int32 {
    _ = Binding.open(L)
    findIntegerPlacement(L)
    registerObjectType(L, .server, methods: serverMethods)
    registerObjectType(L, .client, methods: clientMethods)
    registerObjectType(L, .clientConnection, methods: clientConnectionMethods)
    lua_createtable(L, 0, 16)
    push(L, "mmnet \(mmnetVersion)")
    lua_setfield(L, -2, "_VERSION")
    for kind in EventKind.allCases {
        lua_pushinteger(L, lua_Integer(kind.rawValue))
        lua_setfield(L, -2, kind.luaName)
    }
    for (name, function) in moduleFunctions {
        mmnet_register(L, name, function)
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
