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
    private let hooks: (Hook, Hook)

    /// One thread's debug hook: its function, mask and count. All three are compared: a
    /// script's own hook (a profiler's "crl" with a count) has Ctrl-C's mask already, and a
    /// count hook replaced by another differs only in its function.
    private struct Hook: Equatable {
        let function: UnsafeRawPointer?
        let mask: Int32
        let count: Int32

        /// The hook of `L` now.
        init(_ L: OpaquePointer?) {
            function = unsafeBitCast(lua_gethook(L), to: UnsafeRawPointer?.self)
            mask = lua_gethookmask(L)
            count = lua_gethookcount(L)
        }
    }

    /// Notes the hooks of `L` and of its state's main thread now.
    init(_ L: OpaquePointer) {
        lua_rawgeti(L, mmnet_registryindex(), lua_Integer(LUA_RIDX_MAINTHREAD))
        main = lua_tothread(L, -1)
        mmnet_pop(L, 1)
        thread = L
        hooks = (Hook(L), Hook(main))
    }

    /// Whether a hook was set, changed or cleared on either since `init`.
    var changed: Bool {
        (Hook(thread), Hook(main)) != hooks
    }
}
