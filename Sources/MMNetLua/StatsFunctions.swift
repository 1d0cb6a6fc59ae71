// `obj:GetStats()`, `network.GetStats()` and `network.GetEventDescriptor()`: how the links are
// doing, and a descriptor for a host's own event loop.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Pushes a table of connection statistics in the document's naming style.
private func pushStats(_ L: OpaquePointer, _ stats: ConnectionStats) {
    lua_createtable(L, 0, 8)
    let counts: [(String, Int)] = [
        ("BytesSent", stats.bytesSent), ("BytesReceived", stats.bytesReceived),
        ("MessagesSent", stats.messagesSent), ("MessagesReceived", stats.messagesReceived),
        ("SendQueueBytes", stats.sendQueueBytes),
    ]
    for (name, value) in counts {
        lua_pushinteger(L, lua_Integer(value))
        lua_setfield(L, -2, name)
    }
    lua_pushnumber(L, stats.connectedTime)
    lua_setfield(L, -2, "ConnectedTime")
    if let rtt = stats.rtt {
        lua_pushnumber(L, rtt)
        lua_setfield(L, -2, "RTT")
    }
    if let smoothed = stats.smoothedRTT {
        lua_pushnumber(L, smoothed)
        lua_setfield(L, -2, "SmoothedRTT")
    }
}

/// `stats = client:GetStats()` / `connection:GetStats()`: this connection's figures
/// (RTT and SmoothedRTT are absent until the first pong).
func connectionGetStats(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    guard let connection = selfObject(L, .client, as: Connection.self)
            ?? object(L, 1, .clientConnection, as: Connection.self) else {
        return argumentTypeError(L, 1, expected: "mmnet.Client or mmnet.ClientConnection")
    }
    pushStats(L, connection.stats)
    return 1
}

/// `stats = server:GetStats()`: the sums over its open connections (connected time: the
/// longest; round trips: the mean of those measured).
func serverGetStats(_ L: OpaquePointer?) -> Int32 {
    withSelf(L!, .server) { (L, listener: Listener) in
        pushStats(L, ConnectionStats.total(listener.connections.map(\.stats)))
        return 1
    }
}

/// `stats = network.GetStats()`: this Lua state's totals: `Connections`, `EventsQueued`,
/// `EventBytesQueued`, `EventsDropped`, `MessagesRefused`.
func moduleGetStats(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    let (context, problem) = scriptContext(L)
    guard let context else { return raise(L, problem) }
    let totals = context.totals
    lua_createtable(L, 0, 5)
    let fields: [(String, Int)] = [
        ("Connections", totals.connections), ("EventsQueued", totals.eventsQueued),
        ("EventBytesQueued", totals.eventBytesQueued), ("EventsDropped", totals.eventsDropped),
        ("MessagesRefused", totals.messagesRefused),
    ]
    for (name, value) in fields {
        lua_pushinteger(L, lua_Integer(value))
        lua_setfield(L, -2, name)
    }
    return 1
}

/// `fd = network.GetEventDescriptor()`: a descriptor that is readable whenever events wait
/// for this Lua state and that PollEvents drains, for a host's own select/poll loop. Owned by
/// mmnet: do not close it. Returns nil and a message if it cannot be made.
func moduleGetEventDescriptor(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    let (context, problem) = scriptContext(L)
    guard let context else { return failure(L, problem) }
    do {
        lua_pushinteger(L, lua_Integer(try context.events.descriptor()))
        return 1
    } catch {
        return failure(L, "cannot make the event descriptor: \(error)")
    }
}
