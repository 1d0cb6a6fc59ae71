// `network.Client` and the methods of a client object.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// `object, result = network.Client(address, port, [cypherkey])`: starts connecting and returns
/// at once; EVENT_CONNECTED (or `WaitForConnect`) tells how it went.
func clientNew(_ L: OpaquePointer?) -> Int32 {
    newEndpoint(L!, serverSide: false, type: .client, action: "connect to") { address, key, context in
        let connection = try Socket.connect(to: address, key: key, context: context)
        return (connection, "connecting to \(address.description)")
    }
}

/// `bResult = client:Send(table)`: true once queued; false and the reason otherwise.
/// Messages sent while the connection is still being made go out once it is.
func clientSend(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .client) { (L, connection: Connection) in
        guard lua_type(L, 2) == LUA_TTABLE else { return argumentTypeError(L, 2, expected: "table") }
        // The context lent, not retained: the connection holds it.
        return Unmanaged.passUnretained(connection.context)._withUnsafeGuaranteedRef { context in
            let settings = context.scriptSettings
            let sent = withMessageFrame(L, at: 2, settings: settings, context: context) { frame in
                connection.send(frame, limit: settings.sendQueueLimit)
            }
            switch sent {
            case nil:
                return MMNET_RETHROW
            case .failure(let error)?:
                lua_pushboolean(L, 0)
                return pushResult(L, error.message, results: 2)
            case .success(.sent)?:
                lua_pushboolean(L, 1)
                return 1
            case .success(let outcome)?:
                lua_pushboolean(L, 0)
                return pushResult(L, connection.failureReason.map { "not connected: \($0)" }
                                      ?? describe(outcome, limit: settings.sendQueueLimit), results: 2)
            }
        }
    }
}

/// `client:Disconnect()`: closes after flushing what was sent. Returns true if it was open.
func clientDisconnect(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .client) { (L, connection: Connection) in
        lua_pushboolean(L, connection.requestClose() ? 1 : 0)
        return 1
    }
}

/// `socketid = client:GetSocket()` (also for client connections): the descriptor, or nil once
/// closed for the script: by its close event, or by its `Disconnect` (while the I/O thread
/// still writes out what was queued, the descriptor is not the script's to use).
func connectionGetSocket(_ L: OpaquePointer?) -> Int32 {
    connectionGetter(L!) { L, connection in
        if connection.currentPhase >= .closing { lua_pushnil(L) } else { lua_pushinteger(L, lua_Integer(connection.fd)) }
        return 1
    }
}

/// `port = client:GetPort()`: the server's port once connected, nil before.
func clientGetPort(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .client) { (L, connection: Connection) in
        if connection.currentPhase == .open { lua_pushinteger(L, lua_Integer(connection.peer.port)) } else { lua_pushnil(L) }
        return 1
    }
}

/// `address = client:GetAddress()` / `connection:GetAddress()`: the other side's IP address.
func connectionGetAddress(_ L: OpaquePointer?) -> Int32 {
    connectionGetter(L!) { L, connection in pushResult(L, connection.peer.ip, results: 1) }
}

/// `port = connection:GetPort()`: the client's port, as the server sees it.
func clientConnectionGetPort(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .clientConnection) { (L, connection: Connection) in
        lua_pushinteger(L, lua_Integer(connection.peer.port))
        return 1
    }
}

/// Runs a getter on argument 1, a client or a client connection, and returns its status.
private func connectionGetter(_ L: OpaquePointer, _ body: (OpaquePointer, Connection) -> Int32) -> Int32 {
    guard let connection = selfConnection(L) else {
        return argumentTypeError(L, 1, expected: "mmnet.Client or mmnet.ClientConnection")
    }
    if connection.isInherited { return inheritedObjectError(L) }
    return body(L, connection)
}

/// Shortest and longest wait `WaitForConnect` accepts, and its default, in seconds.
private let waitRange = 0.25...10.0
private let waitDefault = 2.0

/// `bResult, WaitTime = client:WaitForConnect([timeout])`: waits until the connection is made or
/// has failed, at most `timeout` seconds. Returns true and the time connecting took; or false,
/// the time waited, and why (an extension: the third value). EVENT_CONNECTED stays queued.
func clientWaitForConnect(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .client) { (L, connection: Connection) in
        var timeout = waitDefault
        switch numberArgument(L, 2) {
        case .wrongType: return argumentTypeError(L, 2, expected: "number")
        case .absent: break
        case .value(let value, _):
            guard waitRange.contains(value) else {
                return failure(L, "timeout must be between 0.25 and 10 seconds")
            }
            timeout = value
        }
        let start = Clock.monotonic()
        let hooks = HookWatch(L)  // Ctrl-C ends the wait
        let done = connection.context.events.wait(until: start + timeout, interrupted: { hooks.changed }) {
            connection.connectingIsOver
        }
        let waited = Clock.monotonic() - start
        // Connected, even if closed since (the peer's close, the script's Disconnect): as the
        // EVENT_CONNECTED queued says. A client whose server sent a message and closed at once
        // got false and "closed by peer", with Result = true, the message and the close queued.
        if done, let seconds = connection.connectDuration {
            lua_pushboolean(L, 1)
            lua_pushnumber(L, seconds)
            return 2
        }
        lua_pushboolean(L, 0)
        lua_pushnumber(L, waited)
        let why = done ? (connection.failureReason ?? "not connected")
            : hooks.changed ? "interrupted" : "timed out after \(IOThread.seconds(timeout))"
        return pushResult(L, why, results: 3)
    }
}

/// The client object's methods.
let clientMethods: [(String, mmnet_Function)] = [
    ("Send", clientSend),
    ("Disconnect", clientDisconnect),
    ("GetSocket", connectionGetSocket),
    ("GetPort", clientGetPort),
    ("GetAddress", connectionGetAddress),
    ("WaitForConnect", clientWaitForConnect),
    ("GetStats", connectionGetStats),
]

/// The client connection object's methods.
let clientConnectionMethods: [(String, mmnet_Function)] = [
    ("GetSocket", connectionGetSocket),
    ("GetPort", clientConnectionGetPort),
    ("GetAddress", connectionGetAddress),
    ("GetStats", connectionGetStats),
]
