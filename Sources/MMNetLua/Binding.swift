// mmnet's data in one Lua state: the core context and what the binding keeps beside it, the
// sentinel userdata whose finalizer closes them at lua_close, and the registry tables of the
// state's objects (by id; their Lua values are `Objects.swift`) and of the strings it lent.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// What mmnet keeps for one Lua state, owned by a sentinel userdata in the registry whose
/// finalizer runs at `lua_close` before Lua unloads the library.
final class Binding {
    /// The core side of this state; nil when the I/O thread could not be started. In the child
    /// of a fork(), the first call that asks for it gets a new one (`reopenIfForked`).
    var context: ScriptContext? {
        reopenIfForked()
        return opened
    }
    /// The context as opened, whether this process's or (after a fork) the parent's.
    private(set) var opened: ScriptContext?
    /// Why the I/O thread could not be started.
    private(set) var startupError: String?
    /// The events PollEvents drained and has not returned yet (its capacity is reused): they
    /// leave only once their tables are built, so that a memory error Lua raises meanwhile
    /// loses none of them.
    var drained: [Event] = []
    /// Events the ring reported lost that PollEvents has not reported yet (same reason).
    var unreportedLost = EventLosses()
    /// PollEvents is building its tables (`drained` is in use): a finalizer the garbage
    /// collector runs meanwhile may call PollEvents again, and that call returns no events.
    var building = false
    /// A Server or Client is getting its Lua value: PollEvents returns no events meanwhile
    /// (`makeEndpoint`).
    var making = false
    /// The codec limits in force, as `Configure` last set them (read by Encode, Decode and
    /// PollEvents without the context's lock).
    var codecLimits: CodecLimits
    /// The map keys Decode and PollEvents pushed lately; its Lua table is the sentinel's user
    /// value (`pushKeyTable`).
    let keys = KeyCache()
    /// The context's buffer pool, not retained (the context is): `withBufferPool`.
    private var pool: Unmanaged<BufferPool>?

    private init(context: ScriptContext?, startupError: String?) {
        self.opened = context
        self.startupError = startupError
        self.codecLimits = context?.settings.codecLimits ?? CodecLimits()
        self.pool = context.map { Unmanaged.passUnretained($0.buffers) }
    }

    /// In the child of a fork(): the state's servers, clients and queued events are the
    /// parent's. The child gets an empty context of its own with the same settings, served by
    /// an I/O thread of its own; the parent's context is never released (its locks may be held
    /// by threads the child does not have, and its descriptor numbers may be the child's now).
    /// Not while PollEvents builds its tables from `drained` (a fork from a debug hook or a
    /// finalizer run meanwhile): the next call after the build reopens.
    private func reopenIfForked() {
        guard !building, let parents = opened, parents.isInherited else { return }
        _ = Unmanaged.passRetained(parents)
        _ = Unmanaged.passRetained(Inherited(drained))
        drained = []
        unreportedLost = EventLosses()
        do {
            let context = ScriptContext(io: try IOThread.acquire())
            _ = context.configure(parents.scriptSettings)
            let descriptor = parents.events.inheritedDescriptor
            if descriptor >= 0 { context.events.adopt(descriptor: descriptor) }
            opened = context
            pool = Unmanaged.passUnretained(context.buffers)
        } catch {
            opened = nil
            pool = nil
            startupError = "mmnet: the I/O thread could not start after fork(): \(error)"
        }
    }

    /// Calls `body` with the context's buffer pool (nil without a context), lent: no reference
    /// is counted for the call, so a Lua error that unwinds `body` leaks none.
    func withBufferPool<R>(_ body: (BufferPool?) -> R) -> R {
        reopenIfForked()  // not the parent's pool
        guard let pool else { return body(nil) }
        return pool._withUnsafeGuaranteedRef { body($0) }
    }

    /// The state's binding, created with its sentinel and identity table on first use (luaopen).
    /// Everything Lua allocates is made first, and the sentinel, stored last, holds no binding
    /// until then: a memory error raised meanwhile (a host capping the state's memory) leaves
    /// no I/O thread acquired and nothing half made that a retry would take for a binding.
    /// Before, the I/O thread was acquired first (and never released on such an error), and a
    /// retry found the sentinel of the first try and no identity table: a crash at the first
    /// `network.Server`.
    static func open(_ L: OpaquePointer) -> Binding {
        if let existing = current(L) { return existing }
        // Object id -> userdata, weak-valued: a dropped object can still be collected.
        lua_createtable(L, 0, 0)
        lua_createtable(L, 0, 1)
        lua_pushstring(L, "v")
        lua_setfield(L, -2, "__mode")
        lua_setmetatable(L, -2)
        lua_rawsetp(L, mmnet_registryindex(), mmnet_identity_key())
        // Loan id -> string lent to the send queues (`LoanTable.swift`).
        makeLoanSlots(L)

        let block = lua_newuserdatauv(L, MemoryLayout<UnsafeMutableRawPointer>.size, 1)!
        block.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        // `__gc` set each time: a try cut short may have made the metatable without it. The
        // names are literals, which Swift passes without making a C string (a String constant
        // was copied into one, which a memory error raised by the call leaked).
        _ = luaL_newmetatable(L, "mmnet.State")
        lua_pushvalue(L, -1)  // the metatable, as `__gc`'s upvalue 2 (`mmnet_testself`)
        mmnet_register_with_upvalue(L, "__gc", closeState)
        lua_setmetatable(L, -2)
        KeyCache.pushTable(L)
        lua_setiuservalue(L, -2, 1)
        lua_pushvalue(L, -1)
        lua_rawsetp(L, mmnet_registryindex(), mmnet_registry_key())

        // Nothing below allocates in Lua, so nothing below can raise.
        let binding: Binding
        do {
            binding = Binding(context: ScriptContext(io: try IOThread.acquire()), startupError: nil)
        } catch {
            binding = Binding(context: nil, startupError: "mmnet: the I/O thread could not start: \(error)")
        }
        block.storeBytes(of: Unmanaged.passRetained(binding).toOpaque(), as: UnsafeMutableRawPointer.self)
        mmnet_pop(L, 1)
        return binding
    }

    /// The state's binding, if the module was opened in it.
    static func current(_ L: OpaquePointer) -> Binding? {
        lua_rawgetp(L, mmnet_registryindex(), mmnet_registry_key())
        defer { mmnet_pop(L, 1) }
        return held(by: L, at: -1)
    }

    /// Pushes the sentinel, for a function to hold as an upvalue (`held(by:at:)` then finds the
    /// binding without the registry lookup `current` makes).
    static func pushSentinel(_ L: OpaquePointer) {
        lua_rawgetp(L, mmnet_registryindex(), mmnet_registry_key())
    }

    /// Calls `body` with the binding of the sentinel at `index`; calls `closed` instead once the
    /// state is closing (its finalizer has run) or when the value is not a sentinel. The
    /// binding is not retained for the call: the sentinel, on the stack or an upvalue, keeps
    /// it alive.
    static func withHeld<R>(by L: OpaquePointer, at index: Int32, closed: () -> R, _ body: (Binding) -> R) -> R {
        guard let block = lua_touserdata(L, index),
              let pointer = block.load(as: UnsafeMutableRawPointer?.self) else { return closed() }
        return Unmanaged<Binding>.fromOpaque(pointer)._withUnsafeGuaranteedRef(body)
    }

    /// The binding of the sentinel at `index`; nil once the state is closing or when the
    /// value is not a sentinel.
    static func held(by L: OpaquePointer, at index: Int32) -> Binding? {
        withHeld(by: L, at: index, closed: { nil }) { $0 }
    }

    /// Pushes the table of the key cache of the sentinel at `index` (nil when the value there
    /// is not a sentinel).
    static func pushKeyTable(_ L: OpaquePointer, sentinel index: Int32) {
        lua_getiuservalue(L, index, 1)
    }
}

/// What a child of fork() inherited from its parent and must never release (`reopenIfForked`):
/// releasing the parent's events could take locks that a thread of the parent held.
private final class Inherited {
    let value: Any
    init(_ value: Any) { self.value = value }
}

/// `__gc` of the sentinel: the state is closing. Its objects were finalized before this (they
/// were marked for finalization later); close what is left and release the I/O thread, which
/// the last state joins.
private func closeState(_ L: OpaquePointer?) -> Int32 {
    // Only the sentinel: the function can be reached (`debug.getregistry`) and called with
    // anything. The check allocates nothing, so it cannot fail while the state closes.
    guard let block = mmnet_testself(L),
          let pointer = block.load(as: UnsafeMutableRawPointer?.self) else { return 0 }
    block.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
    let binding = Unmanaged<Binding>.fromOpaque(pointer).takeRetainedValue()
    // A state closed in the child of a fork() that did not use mmnet since: its context and the
    // events it kept back are the parent's, to leave alone (`reopenIfForked`), and so is the
    // binding that holds them.
    guard let context = binding.opened, !context.isInherited else {
        if binding.opened != nil { _ = Unmanaged.passRetained(binding) }
        return 0
    }
    context.close()
    IOThread.release()
    return 0
}
