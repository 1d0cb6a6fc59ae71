// The Lua values of mmnet's objects: a full userdata holding one retained reference to the
// core object (`Listener` for a server, `Connection` for a client or client connection),
// remembered by id in a weak table so that each object has one Lua identity.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// The three object types of the user's document, by metatable name.
enum ObjectType: String {
    /// `network.Server`: a `Listener`.
    case server = "mmnet.Server"
    /// `network.Client`: a `Connection` this side opened.
    case client = "mmnet.Client"
    /// A server's connection to one client (`.Object` of EVENT_CONNECT): an accepted `Connection`.
    case clientConnection = "mmnet.ClientConnection"
}

/// Pushes a new userdata for the object `id`, holding nothing yet, and records it in the
/// identity table: the part of making an object's Lua value that allocates, and so may raise a
/// memory error. Until `fillObject` gives it its object, it has no metatable: collected, it
/// closes nothing. Returns its block.
func pushObjectSlot(_ L: OpaquePointer, id: Int64) -> UnsafeMutableRawPointer {
    let block = lua_newuserdatauv(L, MemoryLayout<UnsafeMutableRawPointer>.size, 0)!
    block.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
    lua_rawgetp(L, mmnet_registryindex(), mmnet_identity_key())
    lua_pushvalue(L, -2)
    lua_rawseti(L, -2, id)
    mmnet_pop(L, 1)
    return block
}

/// Makes the userdata at absolute stack index `index`, pushed by `pushObjectSlot` as `block`,
/// the Lua value of `endpoint`: it takes a reference and the metatable of `type`, whose `__gc`
/// closes the object. Allocates nothing, so raises nothing.
func fillObject(_ L: OpaquePointer, at index: Int32, _ block: UnsafeMutableRawPointer, _ endpoint: Endpoint,
                _ type: ObjectType) {
    endpoint.surfaced = true
    block.storeBytes(of: Unmanaged.passRetained(endpoint).toOpaque(), as: UnsafeMutableRawPointer.self)
    _ = mmnet_getmetatable(L, type.rawValue)
    lua_setmetatable(L, index)
}

/// Pushes the userdata of the object with `id` if the script can still reach it; otherwise
/// pushes nothing and returns false (it was collected, and so closed).
func pushExistingObject(_ L: OpaquePointer, id: Int64) -> Bool {
    lua_rawgetp(L, mmnet_registryindex(), mmnet_identity_key())
    if lua_rawgeti(L, -1, id) == LUA_TNIL {
        mmnet_pop(L, 2)
        return false
    }
    mmnet_remove(L, -2)
    return true
}

/// The core object of the userdata at `index` if it is of `type` (nil otherwise, or once
/// finalized).
func object<T: Endpoint>(_ L: OpaquePointer, _ index: Int32, _ type: ObjectType, as: T.Type) -> T? {
    endpoint(in: luaL_testudata(L, index, type.rawValue), as: T.self)
}

/// The core object of argument 1 of the running method when it is of `type`, or of the type
/// the method was registered for (`registerObjectType`); nil otherwise, or once finalized.
func selfObject<T: Endpoint>(_ L: OpaquePointer, _ type: ObjectType, as: T.Type) -> T? {
    endpoint(in: selfBlock(L, type), as: T.self)
}

/// The connection of argument 1 of a method both clients and client connections have; nil
/// for anything else, or once finalized.
func selfConnection(_ L: OpaquePointer) -> Connection? {
    selfObject(L, .client, as: Connection.self) ?? object(L, 1, .clientConnection, as: Connection.self)
}

/// The userdata block of argument 1 of the running method when it is an object of the type
/// the method was registered for, or else of `type` (a method borrowed from another type's
/// table); nil otherwise.
private func selfBlock(_ L: OpaquePointer, _ type: ObjectType) -> UnsafeMutableRawPointer? {
    guard lua_type(L, 1) == LUA_TUSERDATA else { return nil }  // as `mmnet_testself`
    return mmnet_testself(L) ?? luaL_testudata(L, 1, type.rawValue)
}

/// The core object a userdata block holds (nil for none, or once finalized).
private func endpoint<T: Endpoint>(in block: UnsafeMutableRawPointer?, as: T.Type) -> T? {
    guard let pointer = block?.load(as: UnsafeMutableRawPointer?.self) else { return nil }
    return Unmanaged<Endpoint>.fromOpaque(pointer).takeUnretainedValue() as? T
}

/// Runs a method `body` with its `self` (argument 1) when it is an object of `type`;
/// otherwise returns the status of a type error. The object is retained for the call: its
/// userdata's reference may go meanwhile (a finalizer that Lua runs while the method
/// allocates can call the object's `__gc` by hand).
@inline(__always)
func withSelf<T: Endpoint>(_ L: OpaquePointer, _ type: ObjectType, _ body: (OpaquePointer, T) -> Int32) -> Int32 {
    guard let pointer = selfBlock(L, type)?.load(as: UnsafeMutableRawPointer?.self) else {
        return argumentTypeError(L, 1, expected: type.rawValue)
    }
    let endpoint = Unmanaged<Endpoint>.fromOpaque(pointer).takeUnretainedValue()
    // `is` then an unchecked downcast: `as?` would retain it a second time.
    guard endpoint is T else { return argumentTypeError(L, 1, expected: type.rawValue) }
    if endpoint.isInherited { return inheritedObjectError(L) }
    return withExtendedLifetime(endpoint) { body(L, unsafeDowncast(endpoint, to: T.self)) }
}

/// Raises the error of a method called, in the child of a fork(), on an object the parent made:
/// its socket is the parent's (the child closed its copy), and so is the object.
func inheritedObjectError(_ L: OpaquePointer) -> Int32 {
    raise(L, "mmnet: this object was opened before fork() and belongs to the parent process; " +
          "open new servers and clients in the child")
}

/// `__gc` of every object: drops the reference and closes the object, flushing what was sent.
/// Anything but an object of its type (the function is the script's to call, with any
/// argument) is left alone. The check allocates nothing (`mmnet_testself`: the metatable is
/// the function's upvalue), so it cannot fail in a state out of memory.
func collectObject(_ L: OpaquePointer?) -> Int32 {
    guard let block = mmnet_testself(L), let pointer = block.load(as: UnsafeMutableRawPointer?.self) else { return 0 }
    block.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
    let endpoint = Unmanaged<Endpoint>.fromOpaque(pointer)
    // The parent's object, in the child of a fork(): neither closed nor released (its reference
    // stays taken), as its context is not (`Binding.reopenIfForked`).
    if endpoint._withUnsafeGuaranteedRef({ $0.isInherited }) { return 0 }
    close(endpoint.takeRetainedValue())
    return 0
}

/// `__close` of every object, for a to-be-closed variable (`local client <close> =
/// network.Client(...)`): closes the object as its collection would, leaving it valid, its
/// methods acting on a closed object (`Send` false, `ConnectionCount` 0, ...). Anything but an
/// object of its type, or the parent's object in the child of a fork(), is left alone.
func closeObjectVariable(_ L: OpaquePointer?) -> Int32 {
    guard let block = mmnet_testself(L), let pointer = block.load(as: UnsafeMutableRawPointer?.self) else { return 0 }
    let endpoint = Unmanaged<Endpoint>.fromOpaque(pointer).takeUnretainedValue()
    if !endpoint.isInherited { close(endpoint) }
    return 0
}

/// Closes a server (at once) or a connection (after flushing what was sent).
func close(_ endpoint: Endpoint) {
    if let listener = endpoint as? Listener {
        listener.close()
    } else if let connection = endpoint as? Connection {
        connection.requestClose()
    }
}

/// Creates the metatable of `type` with `__gc`, `__close`, `__index` = a table of `methods`,
/// and `__name`.
func registerObjectType(_ L: OpaquePointer, _ type: ObjectType, methods: [(String, mmnet_Function)]) {
    _ = luaL_newmetatable(L, type.rawValue)
    lua_pushvalue(L, -1)  // the metatable, as `__gc`'s upvalue 2 (`mmnet_testself`)
    mmnet_register_with_upvalue(L, "__gc", collectObject)
    lua_pushvalue(L, -1)  // and as `__close`'s
    mmnet_register_with_upvalue(L, "__close", closeObjectVariable)
    lua_createtable(L, 0, Int32(methods.count))
    for (name, function) in methods {
        lua_pushvalue(L, -2)  // the metatable, as the method's upvalue 2 (`selfObject`)
        mmnet_register_with_upvalue(L, name, function)
    }
    lua_setfield(L, -2, "__index")
    mmnet_pop(L, 1)
}
