// `obj:GetStats()` and `network.GetStats()`: how the links are doing.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

// The tables are built with literal field names (no String to convert, so nothing to leak)
// and from values taken out of the core objects first: the frames that build them hold no
// reference, so a memory error Lua raises meanwhile leaks nothing.

/// Pushes a table of connection statistics in the document's naming style.
private func pushStats(_ L: OpaquePointer, _ stats: ConnectionStats) {
    lua_createtable(L, 0, 8)
    setField(L, "BytesSent", stats.bytesSent)
    setField(L, "BytesReceived", stats.bytesReceived)
    setField(L, "MessagesSent", stats.messagesSent)
    setField(L, "MessagesReceived", stats.messagesReceived)
    setField(L, "SendQueueBytes", stats.sendQueueBytes)
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

/// Sets the integer field `name` of the table on top.
private func setField(_ L: OpaquePointer, _ name: UnsafePointer<CChar>, _ value: Int) {
    lua_pushinteger(L, lua_Integer(value))
    lua_setfield(L, -2, name)
}

/// `stats = client:GetStats()` / `connection:GetStats()`: this connection's figures
/// (RTT and SmoothedRTT are absent until the first pong).
func connectionGetStats(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    guard let connection = selfConnection(L) else {
        return argumentTypeError(L, 1, expected: "mmnet.Client or mmnet.ClientConnection")
    }
    if connection.isInherited { return inheritedObjectError(L) }
    let stats = connection.stats
    // Not held across the Lua calls below, which can raise a memory error past this frame.
    _ = consume connection
    pushStats(L, stats)
    return 1
}

/// `stats = server:GetStats()`: the sums over its open connections (connected time: the
/// longest; round trips: the mean of those measured).
func serverGetStats(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    var stats: ConnectionStats?
    let status = withSelf(L, .server) { (_, listener: Listener) in
        stats = ConnectionStats.total(listener.connections.map(\.stats))
        return 0
    }
    guard let stats else { return status }
    pushStats(L, stats)
    return 1
}

/// `stats = network.GetStats()`: this Lua state's totals: `Connections`, `EventsQueued`,
/// `EventBytesQueued`, `EventsDropped`, `MessagesRefused`.
func moduleGetStats(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    let (found, problem) = stateTotals(L)
    guard let totals = found else { return raise(L, problem) }
    lua_createtable(L, 0, 5)
    setField(L, "Connections", totals.connections)
    setField(L, "EventsQueued", totals.eventsQueued)
    setField(L, "EventBytesQueued", totals.eventBytesQueued)
    setField(L, "EventsDropped", totals.eventsDropped)
    setField(L, "MessagesRefused", totals.messagesRefused)
    return 1
}

/// The totals of the calling state's context, or nil and why it has none. The events a
/// PollEvents took from the ring and kept back for its next call (the state ran out of memory)
/// wait for the script too, and are counted. Not inlined: no reference it takes may still be
/// held when the caller's Lua calls raise a memory error.
@inline(never)
private func stateTotals(_ L: OpaquePointer) -> (ScriptContext.Totals?, String) {
    let (context, problem) = scriptContext(L)
    guard var totals = context?.totals else { return (nil, problem) }
    if let kept = Binding.current(L)?.drained, !kept.isEmpty {
        totals.eventsQueued += kept.count
        totals.eventBytesQueued += kept.reduce(0) { $0 + $1.payload.count }
    }
    return (totals, problem)
}
