// The arguments `network.Server` and `network.Client` share: address, port, cypher key.
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
            let shown = number == number.rounded() && abs(number) < 1e15 ? "\(Int64(number))" : "\(number)"
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
            key = try PresharedKey(hex: stringArgument(L, 3)!)
        } catch {
            return .invalid(error.message)  // never contains the key itself
        }
    default:
        return .raise(argumentTypeError(L, 3, expected: "string"))
    }
    guard let address = SocketAddress(ip: text, port: port) else {
        return .invalid("invalid address '\(text)': an IPv4 or IPv6 literal is expected (e.g. \"127.0.0.1\" or \"::1\")")
    }
    return .valid(address, key)
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
    let (context, problem) = scriptContext(L)
    guard let context else { return failure(L, problem) }
    do {
        let (endpoint, result) = try make(address, key, context)
        pushNewObject(L, endpoint, type)
        push(L, result)
        return 2
    } catch let error as TLSError {
        return failure(L, error.message)
    } catch let error as SystemError {
        return failure(L, "cannot \(action) \(address.description): \(error.reason)")
    } catch {
        return failure(L, "cannot \(action) \(address.description): \(error)")
    }
}
