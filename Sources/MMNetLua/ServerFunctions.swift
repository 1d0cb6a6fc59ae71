// `network.Server` and the methods of a server object.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// `object, result = network.Server(address, [port], [cypherkey])`
func serverNew(_ L: OpaquePointer?) -> Int32 {
    newEndpoint(L!, serverSide: true, type: .server, action: "listen on") { address, key, context in
        let listener = try Listener(address: address, key: key, context: context, io: context.io)
        return (listener, "listening on \(listener.address.description)")
    }
}

/// `count = server:Send(table, connection...)`: the table is encoded once. Returns how many
/// connections accepted it, and why the others did not (an extension: the second value).
func serverSend(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        guard lua_type(L, 2) == LUA_TTABLE else { return argumentTypeError(L, 2, expected: "table") }
        let top = lua_gettop(L)
        if top == 3 {
            // One connection, the usual call: no array of targets to allocate.
            switch targetArgument(L, 3) {
            case .connection(let connection):
                return sendToConnections(L, listener, CollectionOfOne(connection), checkMembership: true)
            case .collected:
                return sendToConnections(L, listener, EmptyCollection(), checkMembership: true)
            case .wrongType:
                return argumentTypeError(L, 3, expected: ObjectType.clientConnection.rawValue)
            }
        }
        var targets: [Connection] = []
        for index in stride(from: 3, through: top, by: 1) {
            switch targetArgument(L, index) {
            case .connection(let connection): targets.append(connection)
            case .collected: continue
            case .wrongType: return argumentTypeError(L, index, expected: ObjectType.clientConnection.rawValue)
            }
        }
        return sendToConnections(L, listener, targets, checkMembership: true)
    }
}

/// What a target argument of `server:Send` is.
private enum TargetArgument {
    /// A client connection.
    case connection(Connection)
    /// A client connection the garbage collector finalized: skipped.
    case collected
    /// Anything else: an argument error.
    case wrongType
}

/// Classifies the argument at `index` of `server:Send`.
private func targetArgument(_ L: OpaquePointer, _ index: Int32) -> TargetArgument {
    if let connection = object(L, index, .clientConnection, as: Connection.self) { return .connection(connection) }
    return luaL_testudata(L, index, ObjectType.clientConnection.rawValue) != nil ? .collected : .wrongType
}

/// `count = server:Broadcast(table)`: the table is encoded once and queued to every connection.
func serverBroadcast(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        guard lua_type(L, 2) == LUA_TTABLE else { return argumentTypeError(L, 2, expected: "table") }
        return sendToConnections(L, listener, listener.connections, checkMembership: false)
    }
}

/// Encodes the table at 2 once and queues it to `targets`; pushes the count and, when some
/// failed, the first reason.
private func sendToConnections<Targets: Collection<Connection>>(_ L: OpaquePointer, _ listener: Listener, _ targets: Targets,
                                                               checkMembership: Bool) -> Int32 {
    let settings = listener.context.scriptSettings
    // A message for several connections is written by the I/O thread, not one send(2) per
    // connection from this thread (12 us each: 2.5 ms of a frame for 200 players).
    let deferWrites = targets.count > 1
    let sent = withMessageFrame(L, at: 2, settings: settings, context: listener.context) { frame in
        var count: lua_Integer = 0
        var firstProblem: String?
        for connection in targets {
            if checkMembership && !listener.owns(connection) {
                if firstProblem == nil { firstProblem = "connection \(connection.peer.description) is not open on this server" }
                continue
            }
            let outcome = connection.send(frame, limit: settings.sendQueueLimit, deferWrite: deferWrites)
            if case .sent = outcome {
                count += 1
            } else if firstProblem == nil {
                firstProblem = "\(connection.peer.description): \(describe(outcome, limit: settings.sendQueueLimit))"
            }
        }
        return (count, firstProblem)
    }
    let count: lua_Integer
    let firstProblem: String?
    switch sent {
    case nil:
        return MMNET_RETHROW
    case .failure(let error)?:
        lua_pushinteger(L, 0)
        return pushResult(L, error.message, results: 2)
    case .success(let result)?:
        (count, firstProblem) = result
    }
    lua_pushinteger(L, count)
    guard let firstProblem else { return 1 }
    return pushResult(L, firstProblem, results: 2)
}

/// `count = server:Disconnect(connection...)`: closes each after flushing what was sent to it.
func serverDisconnect(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        var count: lua_Integer = 0
        let top = lua_gettop(L)
        for index in stride(from: 2, through: top, by: 1) {
            guard let connection = object(L, index, .clientConnection, as: Connection.self) else {
                if luaL_testudata(L, index, ObjectType.clientConnection.rawValue) != nil { continue }
                return argumentTypeError(L, index, expected: ObjectType.clientConnection.rawValue)
            }
            if listener.owns(connection) && connection.requestClose() { count += 1 }
        }
        lua_pushinteger(L, count)
        return 1
    }
}

/// `count = server:ConnectionCount()`
func serverConnectionCount(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        lua_pushinteger(L, lua_Integer(listener.connectionCount))
        return 1
    }
}

/// `socketid = server:GetSocket()`: the listening descriptor, or nil once the server is closed
/// (a to-be-closed variable's end, the state closing): the number may belong to another
/// socket by then (a server made next got the same one).
func serverGetSocket(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        if listener.isClosed { lua_pushnil(L) } else { lua_pushinteger(L, lua_Integer(listener.fd)) }
        return 1
    }
}

/// `port = server:GetPort()`: the port it listens on (the one the OS chose, for port 0).
func serverGetPort(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        lua_pushinteger(L, lua_Integer(listener.address.port))
        return 1
    }
}

/// `address = server:GetAddress()`: the address it listens on.
func serverGetAddress(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        pushResult(L, listener.address.ip, results: 1)
    }
}

/// The server object's methods.
let serverMethods: [(String, mmnet_Function)] = [
    ("Send", serverSend),
    ("Broadcast", serverBroadcast),
    ("Disconnect", serverDisconnect),
    ("ConnectionCount", serverConnectionCount),
    ("GetSocket", serverGetSocket),
    ("GetPort", serverGetPort),
    ("GetAddress", serverGetAddress),
    ("GetStats", serverGetStats),
]
