// Reading a Lua function's arguments without raising: every check returns a value or a
// status for `mmnet_trampoline` to raise once Swift has returned.
//
// Thread: Lua thread only.
import CLuaShim

/// The type name of the value at `index` (an absolute index) as Lua's own argument errors
/// give it: its metatable's `__name` when that is a string ("mmnet.Client", "FILE*"), else
/// its basic type ("nil", "number", "userdata", ...). Allocates nothing in Lua ("__name" is
/// interned already: mmnet's metatables have it), so raises nothing.
func typeName(_ L: OpaquePointer, _ index: Int32) -> String {
    let field = luaL_getmetafield(L, index, "__name")  // pushes nothing when there is none
    if field != LUA_TNIL {
        defer { mmnet_pop(L, 1) }
        if field == LUA_TSTRING, let name = stringArgument(L, -1) { return name }
    }
    return String(cString: lua_typename(L, lua_type(L, index)))
}

/// Pushes "<expected> expected, got <actual>" and returns the status that raises
/// "bad argument #index to 'fn' (...)" (`MMNET_RETHROW` when Lua has no memory for it).
/// `expected` is a type name, or several joined by " or ". A value named as expected got here
/// either because its `__gc` has run (an mmnet object finalized by hand) or because it is not
/// an mmnet object at all but was given one's metatable: the message says which.
func argumentTypeError(_ L: OpaquePointer, _ index: Int32, expected: String) -> Int32 {
    let type = lua_type(L, index)
    let actual = type == LUA_TNONE ? "no value" : typeName(L, index)
    var got = actual
    if expected.split(separator: " or ").contains(where: { $0 == actual }) {
        got = type == LUA_TUSERDATA
            ? "an \(actual) already closed by its __gc"
            : "a \(String(cString: lua_typename(L, type))) with an \(actual)'s metatable"
    }
    return pushProtected(L, "\(expected) expected, got \(got)") ? mmnet_argerror_status(index) : MMNET_RETHROW
}

/// Pushes `message` and returns the status that raises it as a Lua error.
func raise(_ L: OpaquePointer, _ message: String) -> Int32 {
    pushProtected(L, message) ? MMNET_RAISE : MMNET_RETHROW
}

/// Pushes nil and `message`: the document's "nil on failure, and a result string".
func failure(_ L: OpaquePointer, _ message: String) -> Int32 {
    lua_pushnil(L)
    return pushResult(L, message, results: 2)
}

/// Pushes `message`, the last of `results` results, and returns `results`; or returns
/// `MMNET_RETHROW` when Lua has no memory for it (`pushProtected`).
func pushResult(_ L: OpaquePointer, _ message: String, results: Int32) -> Int32 {
    pushProtected(L, message) ? results : MMNET_RETHROW
}

/// The string at `index` (nil when it is not a string; numbers are not converted).
func stringArgument(_ L: OpaquePointer, _ index: Int32) -> String? {
    guard lua_type(L, index) == LUA_TSTRING else { return nil }
    var length = 0
    let bytes = lua_tolstring(L, index, &length)!
    return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
}

/// A number argument that may be absent: `.absent` for nil/none, `.value` for a number,
/// `.wrongType` otherwise.
enum NumberArgument {
    /// nil or no value.
    case absent
    /// A number, with its integer value when it has one (an integer, or a float with an
    /// integral value that fits).
    case value(Double, integer: Int64?)
    /// Anything else.
    case wrongType
}

/// Reads an optional number argument.
func numberArgument(_ L: OpaquePointer, _ index: Int32) -> NumberArgument {
    switch lua_type(L, index) {
    case LUA_TNONE, LUA_TNIL:
        return .absent
    case LUA_TNUMBER:
        var isInteger: Int32 = 0
        let integer = lua_tointegerx(L, index, &isInteger)
        return .value(lua_tonumberx(L, index, nil), integer: isInteger != 0 ? integer : nil)
    default:
        return .wrongType
    }
}

/// Pushes a Swift string. A memory error Lua raises making it unwinds the caller: for code
/// that holds nothing a skipped cleanup would leak (or runs in protected mode); elsewhere
/// `pushProtected`.
@inline(__always)
func push(_ L: OpaquePointer, _ string: String) {
    var string = string
    string.withUTF8 { bytes in
        bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
    }
}

/// Pushes a Swift string in protected mode: false, with Lua's memory error on top instead,
/// when Lua has no memory for it, so that the error does not unwind the caller's frames (and
/// the string and references they hold); the caller then returns `MMNET_RETHROW`. (The error
/// may also be a debug hook's, which Lua runs at the call: Ctrl-C's, say.)
func pushProtected(_ L: OpaquePointer, _ string: String) -> Bool {
    pushProtectedStatus(L, string) == LUA_OK
}

/// `pushProtected(_:_:)`, returning the status of the call: `LUA_OK`, `LUA_ERRMEM` for want
/// of memory, or another for a debug hook's error.
func pushProtectedStatus(_ L: OpaquePointer, _ string: String) -> Int32 {
    var string = string
    return string.withUTF8 { pushProtectedStatus(L, bytes: UnsafeRawBufferPointer($0)) }
}

/// Pushes `bytes` as a string in protected mode (see `pushProtected(_:_:)`).
func pushProtected(_ L: OpaquePointer, bytes: UnsafeRawBufferPointer) -> Bool {
    pushProtectedStatus(L, bytes: bytes) == LUA_OK
}

/// `pushProtected(_:bytes:)`, returning the status of the call (`pushProtectedStatus(_:_:)`).
private func pushProtectedStatus(_ L: OpaquePointer, bytes: UnsafeRawBufferPointer) -> Int32 {
    var bytes = bytes
    return mmnet_pcall(L, 0, pushBytes, &bytes, 1)
}

/// Pushes the bytes of the `UnsafeRawBufferPointer` at `context` as a string (protected).
private let pushBytes: mmnet_Protected = { state, context in
    let bytes = context!.load(as: UnsafeRawBufferPointer.self)
    _ = lua_pushlstring(state, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    return 1
}
