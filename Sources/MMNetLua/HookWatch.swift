// Noticing an interrupt during a wait. lua5.4 takes Ctrl-C (SIGINT) by setting a debug hook on
// the state's main thread, which runs only once the script runs on: a call that blocks the
// script (`PollEvents`, `WaitForConnect`) checks now and then whether the hooks changed, and
// ends early when they did, so that the hook runs ("interrupted!") at once.
//
// Thread: Lua thread only.
import CLuaShim

/// The debug hooks of the calling coroutine and of the main thread as a wait starts.
struct HookWatch {
    private let thread: OpaquePointer
    private let main: OpaquePointer?
    private let masks: (Int32, Int32)

    /// Notes the hooks of `L` and of its state's main thread now.
    init(_ L: OpaquePointer) {
        lua_rawgeti(L, mmnet_registryindex(), lua_Integer(LUA_RIDX_MAINTHREAD))
        main = lua_tothread(L, -1)
        mmnet_pop(L, 1)
        thread = L
        masks = (lua_gethookmask(L), lua_gethookmask(main))
    }

    /// Whether a hook was set, changed or cleared on either since `init`.
    var changed: Bool {
        (lua_gethookmask(thread), lua_gethookmask(main)) != masks
    }
}
