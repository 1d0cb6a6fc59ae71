// `network.PollEvents([timeout])`: the queued events of this state as an array of event tables.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// `events = network.PollEvents([timeout])`: every queued event, oldest first, as an array of
/// tables `{Event =, Timestamp =, Object =, Errors =, Result =, Packet =}` (empty when none).
/// Without a timeout it returns at once; with one (seconds) it first waits until an event is
/// queued or the time has passed. Events lost to overflow are reported first, as one EVENT_ERROR.
func pollEvents(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    var timeout = 0.0
    switch numberArgument(L, 1) {
    case .wrongType: return argumentTypeError(L, 1, expected: "number")
    case .absent: break
    case .value(let value, _):
        guard value >= 0 && value.isFinite else { return raise(L, "PollEvents: timeout must be a finite number of seconds >= 0") }
        timeout = value
    }
    guard let binding = Binding.current(L), let context = binding.context else {
        lua_createtable(L, 0, 0)
        return 1
    }
    var lost = context.drainEvents(into: &binding.drained, timeout: timeout)
    // The events of a client connection whose EVENT_CONNECT overflowed can never be delivered
    // (no script holds it, and it was closed): they are lost too.
    var announced = Set<Int64>()
    binding.drained.removeAll { event in
        if event.kind == .connect {
            announced.insert(event.source.id)
            return false
        }
        guard !event.source.surfaced && !announced.contains(event.source.id) else { return false }
        lost += 1
        return true
    }
    defer { binding.drained.removeAll(keepingCapacity: true) }
    let limits = context.settings.codecLimits
    lua_createtable(L, Int32(binding.drained.count + (lost > 0 ? 1 : 0)), 0)
    var count: lua_Integer = 0
    if lost > 0 {
        pushEventTable(L, kind: .error, timestamp: Clock.wall(), message: "event queue overflow: \(lost) events lost", extraFields: 0)
        count += 1
        lua_rawseti(L, -2, count)
    }
    // Consecutive events mostly come from one object: keep the last one looked up in a slot
    // below the result table instead of searching the identity table for each.
    lua_pushnil(L)
    var cache = ObjectCache(slot: lua_gettop(L))
    for event in binding.drained where pushEvent(L, event, limits: limits, cache: &cache) {
        count += 1
        lua_rawseti(L, -3, count)
    }
    mmnet_pop(L, 1)
    return 1
}

/// The stack slot holding the object of the previous event, and its id.
private struct ObjectCache {
    let slot: Int32
    var id: Int64 = 0
}

/// Pushes the table of one event; returns false (pushing nothing) when its object was collected.
private func pushEvent(_ L: OpaquePointer, _ event: Event, limits: CodecLimits, cache: inout ObjectCache) -> Bool {
    if event.source.id == cache.id {
        lua_pushvalue(L, cache.slot)
    } else {
        if !pushExistingObject(L, id: event.source.id) {
            guard event.kind == .connect, let connection = event.source as? Connection else { return false }
            pushNewObject(L, connection, .clientConnection)
        }
        lua_copy(L, -1, cache.slot)
        cache.id = event.source.id
    }
    var kind = event.kind
    var message = event.message
    var decoded = false
    if kind == .receive {
        let error = event.payload.withUnsafeBytes { pushDecodedValue(L, $0, limits: limits) }
        if let error {
            // Validated by the I/O thread under the limits then in force; they have shrunk since.
            kind = .error
            message = "malformed message: \(error.message)"
            (event.source as? Connection)?.requestClose()
        } else {
            decoded = true
        }
    }
    pushEventTable(L, kind: kind, timestamp: event.timestamp, message: message,
                   extraFields: 1 + (decoded ? 1 : 0) + (kind == .connected ? 1 : 0))
    if decoded {
        mmnet_insert(L, -2)
        lua_setfield(L, -2, "Packet")
    }
    mmnet_insert(L, -2)
    lua_setfield(L, -2, "Object")
    if kind == .connected {
        lua_pushboolean(L, event.result ? 1 : 0)
        lua_setfield(L, -2, "Result")
    }
    return true
}

/// Pushes a new event table with `.Event`, `.Timestamp` and `.Errors`, sized for
/// `extraFields` more (Object, Packet, Result).
private func pushEventTable(_ L: OpaquePointer, kind: EventKind, timestamp: Double, message: String?, extraFields: Int32) {
    lua_createtable(L, 0, 2 + (message == nil ? 0 : 1) + extraFields)
    lua_pushinteger(L, lua_Integer(kind.rawValue))
    lua_setfield(L, -2, "Event")
    lua_pushnumber(L, timestamp)
    lua_setfield(L, -2, "Timestamp")
    if let message {
        push(L, message)
        lua_setfield(L, -2, "Errors")
    }
}
