// What `network.Server` and `network.Client` share: their arguments (address, port, cypher
// key), and making the object and its Lua value (`newEndpoint`).
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// What the first three arguments of Server/Client came to.
enum EndpointArguments {
    /// Usable: the address to bind or connect to, and the key when encrypted.
    case valid(SocketAddress, PresharedKey?)
    /// A value the document does not allow: `nil, message`.
    case invalid(String)
    /// A wrong type: a Lua error (the status is ready to return).
    case raise(Int32)
}

/// Reads `address, [port], [cypherkey]` at 1, 2, 3 (the key: 32 or 64 hex digits). `serverSide` allows port 0 or nil (the OS
/// chooses); clients need 1024..65535.
func endpointArguments(_ L: OpaquePointer, serverSide: Bool) -> EndpointArguments {
    guard let text = stringArgument(L, 1) else {
        return .raise(argumentTypeError(L, 1, expected: "string"))
    }
    var port: UInt16 = 0
    switch numberArgument(L, 2) {
    case .wrongType:
        return .raise(argumentTypeError(L, 2, expected: "number"))
    case .absent:
        if !serverSide { return .invalid("port is required (1024 to 65535)") }
    case .value(let number, let integer):
        guard let integer, (1024...65535).contains(integer) || (serverSide && integer == 0) else {
            // As the script wrote it: an integer as an integer (math.mininteger showed as
            // -9.223372036854776e+18), an integral float without its ".0", NaN as "nan".
            let shown = integer.map { "\($0)" } ?? (number.isNaN ? "nan"
                : number == number.rounded() && abs(number) < 1e15 ? "\(Int64(number))" : "\(number)")
            return .invalid("invalid port \(shown): valid range is 1024 to 65535\(serverSide ? ", or 0 or nil to let the OS choose" : "")")
        }
        port = UInt16(integer)
    }
    var key: PresharedKey?
    switch lua_type(L, 3) {
    case LUA_TNONE, LUA_TNIL:
        break
    case LUA_TSTRING:
        do {
            // Read in place: a Swift String of the hex would leave a copy in freed memory.
            var length = 0
            let digits = lua_tolstring(L, 3, &length)
            key = try PresharedKey(hexDigits: UnsafeRawBufferPointer(start: digits, count: length))
        } catch {
            return .invalid(error.message)  // never contains the key itself
        }
    default:
        return .raise(argumentTypeError(L, 3, expected: "string"))
    }
    // A zero byte would end the C string: "127.0.0.1\0junk" was taken as 127.0.0.1.
    guard !text.utf8.contains(0), let address = SocketAddress(ip: text, port: port) else {
        return .invalid(invalidAddress(text))
    }
    return .valid(address, key)
}

/// Why `text` is no address: the zone of an IPv6 literal that names no interface, or no literal.
private func invalidAddress(_ text: String) -> String {
    if let percent = text.firstIndex(of: "%"), text[..<percent].contains(":"),
       SocketAddress(ip: String(text[..<percent]), port: 0) != nil {
        let zone = String(text[text.index(after: percent)...])
        return "invalid address \(quotedForMessage(text)): no network interface \(quotedForMessage(zone)) "
            + "(an IPv6 address's zone, as in \"fe80::1%eth0\")"
    }
    return "invalid address \(quotedForMessage(text)): an IPv4 or IPv6 literal is expected "
        + "(e.g. \"127.0.0.1\" or \"::1\")"
}

/// `text` quoted for an error message: at most 64 characters of it (an address of 100,000 made
/// a message as long), zero bytes shown as `\0`.
private func quotedForMessage(_ text: String) -> String {
    let shown = text.prefix(64).map { $0 == "\0" ? "\\0" : String($0) }.joined()
    return "'\(shown)'" + (text.count > 64 ? "... (\(text.utf8.count) bytes)" : "")
}

/// The context of the calling state, or nil and the reason there is none.
func scriptContext(_ L: OpaquePointer) -> (ScriptContext?, String) {
    guard let binding = Binding.current(L) else { return (nil, "mmnet is not open in this state") }
    return (binding.context, binding.startupError ?? "")
}

/// The shared body of `network.Server` and `network.Client`: reads `address, [port],
/// [cypherkey]`, makes the object with `make` (which returns it and the result string), and
/// pushes it and the string; or nil and why. `action` names what failed ("listen on").
func newEndpoint(_ L: OpaquePointer, serverSide: Bool, type: ObjectType, action: String,
                 make: (SocketAddress, PresharedKey?, ScriptContext) throws -> (Endpoint, String)) -> Int32 {
    let address: SocketAddress
    let key: PresharedKey?
    switch endpointArguments(L, serverSide: serverSide) {
    case .raise(let status): return status
    case .invalid(let message): return failure(L, message)
    case .valid(let parsed, let parsedKey): (address, key) = (parsed, parsedKey)
    }
    // The refusal is pushed here, once `makeEndpoint` and the references it held are gone:
    // pushing it may raise a memory error.
    switch makeEndpoint(L, address: address, key: key, type: type, action: action, make: make) {
    case .pushed: return 2
    case .raised: return MMNET_RETHROW
    case .refused(let message): return failure(L, message)
    }
}

/// What `makeEndpoint` came to.
private enum MadeEndpoint {
    /// The object and the result string are on the stack.
    case pushed
    /// Lua raised a memory error making its value (on the stack); the object is closed.
    case raised
    /// It could not be made, for this reason.
    case refused(String)
}

/// Makes the object and pushes its Lua value and the result string. The value and the string
/// are made in protected mode: a memory error there closes the object at once (its socket, a
/// server's port) instead of leaving it open with no value a script could close, and comes
/// back here instead of unwinding these frames, which hold references.
private func makeEndpoint(_ L: OpaquePointer, address: SocketAddress, key: PresharedKey?, type: ObjectType, action: String,
                          make: (SocketAddress, PresharedKey?, ScriptContext) throws -> (Endpoint, String)) -> MadeEndpoint {
    let (context, problem) = scriptContext(L)
    guard let context, let binding = Binding.current(L) else { return .refused(problem) }
    do {
        let (endpoint, result) = try make(address, key, context)
        var made = MadeObject(id: endpoint.id)
        // Its events may be queued already (a client's EVENT_CONNECTED), before its value
        // exists: a PollEvents from a debug hook or finalizer that Lua runs meanwhile would
        // take them for a dropped object's, and lose them. It returns none until then.
        binding.making = true
        let status = result.withCString { text in
            made.result = text
            return mmnet_pcall(L, 0, pushMadeObject, &made, 2)
        }
        binding.making = false
        guard status == LUA_OK, let block = made.block else {
            close(endpoint)
            return .raised
        }
        fillObject(L, at: lua_gettop(L) - 1, block, endpoint, type)
        return .pushed
    } catch let error as TLSError {
        return .refused(error.message)
    } catch let error as SystemError {
        let mapped = type == .server ? address.mappedIPv4 : nil  // a client connects to one
        let hint = address.isLinkLocalWithoutZone ? " (a link-local address needs its zone, e.g. \"fe80::1%eth0\")"
            : mapped.map { " (an IPv4-mapped address, which a server of mmnet, listening on IPv6 only, does not take: use \"\($0)\")" } ?? ""
        return .refused("cannot \(action) \(address.description): \(error.reason)\(hint)")
    } catch {
        return .refused("cannot \(action) \(address.description): \(error)")
    }
}

/// What `pushMadeObject` works from and gives back.
private struct MadeObject {
    /// The object's id.
    let id: Int64
    /// The result string (valid during the protected call).
    var result: UnsafePointer<CChar>? = nil
    /// The block of the userdata pushed for the object.
    var block: UnsafeMutableRawPointer? = nil
}

/// Pushes a userdata for the object (`pushObjectSlot`) and the result string of the
/// `MadeObject` at `context` (protected, from `newEndpoint`).
private let pushMadeObject: mmnet_Protected = { state, context in
    let L = state!
    let made = context!.assumingMemoryBound(to: MadeObject.self)
    made.pointee.block = pushObjectSlot(L, id: made.pointee.id)
    lua_pushstring(L, made.pointee.result)
    return 2
}
