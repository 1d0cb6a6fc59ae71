// `network.PollEvents([timeout])`: the queued events of this state as an array of event tables;
// and `network.GetEventDescriptor()`, which tells a host's own event loop when to call it.
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
    // The empty table is made here, once `collectEvents` (and the references it held) is gone:
    // making it may raise a memory error.
    switch collectEvents(L, timeout: timeout) {
    case .none:
        lua_createtable(L, 0, 0)
        return 1
    case .built:
        return 1
    case .failed:
        return MMNET_RETHROW
    }
}

/// What `collectEvents` left on the stack.
private enum Collected {
    /// Nothing: there are no events.
    case none
    /// The array of event tables.
    case built
    /// The error that stopped the building; the events wait for the next call. A memory error
    /// that even a build of one event could not get past, or any other error (a debug hook's,
    /// which Lua may run at any call: Ctrl-C's "interrupted!" must reach the script).
    case failed
}

/// Drains this state's events and builds their tables, in protected mode (`buildEventTables`):
/// a memory error Lua raises meanwhile (a host that caps the state's memory) comes back here
/// instead of unwinding past these frames, which hold references. The events stay in the
/// binding's array until their tables are built, and the ring is not drained again while any
/// wait there (so that a full ring holds the I/O thread back, as it should). After such an
/// error, the events before the one that failed are built again and returned alone, the rest
/// waiting for the next call; a message that fails first, with nothing else of the call held,
/// does not fit in the state's memory and becomes an EVENT_ERROR that closes its connection
/// (`RefusedMessage`). Only an error that even that cannot get past is raised.
private func collectEvents(_ L: OpaquePointer, timeout: Double) -> Collected {
    guard let binding = Binding.current(L), let context = binding.context else { return .none }
    // A finalizer that the garbage collector runs while this state's PollEvents builds its
    // tables (any allocation can run one) and that calls PollEvents: no events for it, they
    // are the building call's. Nor while a Server or Client is made (`Binding.making`).
    if binding.building || binding.making { return .none }
    // Events kept back by an earlier call (it ran out of memory): the descriptor was left
    // readable for them, and is set again once this call has built what it can.
    let keptBack = !binding.drained.isEmpty
    if !keptBack {
        // Ctrl-C ends a wait (`HookWatch`), and the hook raises "interrupted!" when the
        // script runs on.
        let hooks = HookWatch(L)
        binding.unreportedLost.add(context.drainEvents(into: &binding.drained, timeout: timeout,
                                                       interrupted: { hooks.changed }))
        // Counted once, when drained: in the overflow report and in GetStats().EventsDropped
        // alike (the report counted them and EventsDropped did not: 12 against 11).
        let unreachable = countUnreachable(binding.drained)
        if unreachable > 0 {
            binding.unreportedLost.add(EventLosses(count: unreachable, since: Clock.wall()))
            context.events.countLost(unreachable)
        }
    }
    context.buffers.releaseIfIdle(now: Clock.monotonic())
    returnLoans(L, book: context.loans)
    if binding.drained.isEmpty && binding.unreportedLost.count == 0 { return .none }
    binding.building = true
    defer { binding.building = false }
    var count = binding.drained.count
    var refused: RefusedMessage?
    while true {
        var made = BuildResults(refusals: refused.map { [$0.refusal] } ?? [])
        let failedAt: Int
        switch buildTables(L, binding, count: count, made: &made) {
        case .built:
            for refusal in made.refusals { refusal.connection.refuseQueuedMessage(reason: refusal.reason) }
            fillNewObjects(L, made.newObjects)
            binding.drained.removeFirst(count)
            binding.unreportedLost = EventLosses()
            if keptBack || !binding.drained.isEmpty { context.events.notifyPending(!binding.drained.isEmpty) }
            return .built
        case .raised:
            // Not for want of memory: raised as it is, every event kept (a smaller build would
            // swallow it, and a hook that always raises would make it retry for ever).
            if let refused { binding.drained[0] = refused.event }
            context.events.notifyPending(true)
            return .failed
        case .outOfMemory(let index):
            failedAt = index
        }
        if failedAt > 0 {
            // The events before it fit, once the rest is not held.
            count = failedAt
        } else if failedAt == 0, refused == nil, let message = RefusedMessage(binding.drained[0]) {
            // It does not fit with nothing else of the call held.
            refused = message
            binding.drained[0] = message.errorEvent
        } else {
            if let refused { binding.drained[0] = refused.event }  // not even its error fits
            context.events.notifyPending(true)
            return .failed
        }
        mmnet_pop(L, 1)  // the memory error, got past
    }
}

/// A message that does not fit in the state's memory, the first event of a build: it becomes
/// an EVENT_ERROR in its place, and once that is built its connection is refused.
private struct RefusedMessage {
    /// The message's event.
    let event: Event
    /// Its connection and why.
    let refusal: Refusal

    /// The refusal of the message of `event`; nil when it is no message.
    init?(_ event: Event) {
        guard event.kind == .receive, let connection = event.source as? Connection else { return nil }
        self.event = event
        refusal = Refusal(connection: connection,
                          reason: "not enough memory in this Lua state for a message of \(event.payload.count) bytes")
    }

    /// The EVENT_ERROR that takes the message's place.
    var errorEvent: Event {
        Event(.error, source: refusal.connection, message: refusal.reason, timestamp: event.timestamp)
    }
}

/// A queued message the script cannot take: once the build that met it succeeds, its
/// connection refuses it (`Connection.refuseQueuedMessage`: closed with its close event,
/// counted in `MessagesRefused`, and no later message of it delivered).
private struct Refusal {
    /// The message's connection.
    let connection: Connection
    /// Why, as the EVENT_ERROR and the close event say.
    let reason: String
}

/// What a build makes besides the tables, to act on once it succeeded: a failed build's part
/// is dropped with it, and the next build makes it again.
private struct BuildResults {
    /// The client connections whose userdata the build pushed empty (`pushObjectSlot`), for
    /// `fillNewObjects`: made whole only once every table is built, a userdata a memory error
    /// left behind has no `__gc` to close its connection when collected.
    var newObjects: [Endpoint] = []
    /// The messages refused; the later messages of their connections are skipped already.
    var refusals: [Refusal] = []

    /// Whether `source` refused a message in this build.
    @inline(__always)
    func refused(_ source: Endpoint) -> Bool {
        !refusals.isEmpty && refusals.contains { $0.connection === source }
    }
}

/// How a build of event tables ended.
private enum BuildOutcome {
    /// The array is on the stack.
    case built
    /// Lua ran out of memory making the table of the event at this index (-1: the lost
    /// report); the memory error is on the stack instead.
    case outOfMemory(at: Int)
    /// Another error is on the stack instead: a debug hook's (Lua runs hooks inside the
    /// build's protected calls), to be raised.
    case raised
}

/// Builds the array of the tables of the first `count` drained events (and of the lost
/// report) in protected mode, onto the stack.
private func buildTables(_ L: OpaquePointer, _ binding: Binding, count: Int, made: inout BuildResults) -> BuildOutcome {
    // Events are read in place (an unsafe buffer's elements are borrowed, not copied).
    binding.drained.withUnsafeBufferPointer { drained in
        withUnsafeMutablePointer(to: &made) { made in
            var tables = EventTables(events: UnsafeBufferPointer(rebasing: drained[..<count]),
                                     lost: binding.unreportedLost,
                                     binding: Unmanaged.passUnretained(binding), made: made)
            let status = mmnet_pcall(L, 0, buildEventTables, &tables, 1)
            switch status == LUA_OK ? tables.failure : status {
            case LUA_OK: return .built
            case LUA_ERRMEM: return .outOfMemory(at: tables.finished)
            default: return .raised
            }
        }
    }
}

/// What `buildEventTables` builds from: nothing in it is reference counted (see `mmnet_pcall`).
private struct EventTables {
    /// The events, read in place.
    let events: UnsafeBufferPointer<Event>
    /// Events lost to overflow, to report first.
    let lost: EventLosses
    /// The state's binding (its key cache and codec limits), not retained.
    let binding: Unmanaged<Binding>
    /// The new objects and the refusals of the build (`BuildResults`).
    let made: UnsafeMutablePointer<BuildResults>
    /// The status of the error that came back to the build and stopped it (a message's
    /// `.Errors` string, made in protected mode), its one result instead of the array;
    /// `LUA_OK` while none did.
    var failure = LUA_OK
    /// The events built (or skipped) so far: at a failure, the index of the one that failed;
    /// -1 while the lost report is being built.
    var finished = -1
}

/// Makes the empty userdata of `objects` (in the identity table) their Lua values, after a
/// build that succeeded. Allocates nothing, so raises nothing.
private func fillNewObjects(_ L: OpaquePointer, _ objects: [Endpoint]) {
    guard !objects.isEmpty else { return }
    lua_rawgetp(L, mmnet_registryindex(), mmnet_identity_key())
    for endpoint in objects {
        lua_rawgeti(L, -1, endpoint.id)
        fillObject(L, at: lua_gettop(L), lua_touserdata(L, -1)!, endpoint, .clientConnection)
        mmnet_pop(L, 1)
    }
    mmnet_pop(L, 1)
}

/// Pushes the array of the event tables of the `EventTables` at `context` (in protected mode,
/// from `collectEvents`).
private let buildEventTables: mmnet_Protected = { state, context in
    let L = state!
    let tables = context!.assumingMemoryBound(to: EventTables.self)
    let events = tables.pointee.events
    let lost = tables.pointee.lost
    return tables.pointee.binding._withUnsafeGuaranteedRef { binding in
        let limits = binding.codecLimits
        lua_createtable(L, Int32(events.count + (lost.count > 0 ? 1 : 0)), 0)
        // Above the result table: the field names, pushed once per call (rawset with them
        // skips the lookup lua_setfield makes for each), and the object of the previous event
        // (consecutive events mostly come from one object).
        var slots = EventSlots(L)
        let keys = binding.keys.pusher(table: slots.keyTable)
        var count: lua_Integer = 0
        if lost.count > 0 {
            pushEventTable(L, kind: .error, timestamp: lost.since, fields: 3, slots: slots)
            let status = setErrors(L, "event queue overflow: \(lost.count) events lost", slots: slots)
            guard status == LUA_OK else { return stopBuilding(L, status: status, slots: slots, tables: tables) }
            count += 1
            lua_rawseti(L, slots.results, count)
        }
        tables.pointee.finished = 0
        for index in events.indices {
            switch pushEvent(L, events.baseAddress! + index, limits: limits, keys: keys, slots: &slots,
                             made: tables.pointee.made) {
            case .pushed:
                count += 1
                lua_rawseti(L, slots.results, count)
            case .skipped:
                break  // an unreachable event counted when drained: its object has no Lua value
            case .failed(let status):
                return stopBuilding(L, status: status, slots: slots, tables: tables)
            }
            tables.pointee.finished = index + 1
        }
        lua_settop(L, slots.results)
        return 1
    }
}

/// Ends a build at the error on top, of status `status`: it becomes the one result.
private func stopBuilding(_ L: OpaquePointer, status: Int32, slots: EventSlots,
                          tables: UnsafeMutablePointer<EventTables>) -> Int32 {
    tables.pointee.failure = status
    lua_copy(L, -1, slots.results)
    lua_settop(L, slots.results)
    return 1
}

/// How many of `events` can never be delivered: those of a client connection whose
/// EVENT_CONNECT overflowed (no script holds it, and it was closed). They are lost too.
private func countUnreachable(_ events: [Event]) -> Int {
    var announced = Set<Int64>()
    var unreachable = 0
    var reachableID: Int64 = 0  // the last source found reachable: most events repeat it
    for index in events.indices {
        let id = events[index].source.id
        if events[index].kind == .connect {
            announced.insert(id)
        } else if id != reachableID {
            if !events[index].source.surfaced && !announced.contains(id) {
                unreachable += 1
            } else {
                reachableID = id
            }
        }
    }
    return unreachable
}

/// The stack slots `pushEvent` uses, above the result table: the field names, the key cache's
/// table, and the object of the previous event with its id.
private struct EventSlots {
    /// The result table.
    let results: Int32
    /// The string `"Event"`.
    let eventKey: Int32
    /// The string `"Timestamp"`.
    let timestampKey: Int32
    /// The string `"Object"`.
    let objectKey: Int32
    /// The string `"Packet"`.
    let packetKey: Int32
    /// The string `"Errors"`.
    let errorsKey: Int32
    /// The string `"Result"`.
    let resultKey: Int32
    /// The table of the state's key cache (`Binding.keys`).
    let keyTable: Int32
    /// The object of the previous event (nil at first).
    let object: Int32
    /// Its id (0: none).
    var objectID: Int64 = 0

    /// Pushes the field names, the key cache's table and an empty object slot above the result
    /// table on top.
    init(_ L: OpaquePointer) {
        results = lua_gettop(L)
        lua_pushstring(L, "Event")
        eventKey = lua_gettop(L)
        lua_pushstring(L, "Timestamp")
        timestampKey = lua_gettop(L)
        lua_pushstring(L, "Object")
        objectKey = lua_gettop(L)
        lua_pushstring(L, "Packet")
        packetKey = lua_gettop(L)
        lua_pushstring(L, "Errors")
        errorsKey = lua_gettop(L)
        lua_pushstring(L, "Result")
        resultKey = lua_gettop(L)
        Binding.pushSentinel(L)
        Binding.pushKeyTable(L, sentinel: -1)
        mmnet_remove(L, -2)
        keyTable = lua_gettop(L)
        lua_pushnil(L)
        object = lua_gettop(L)
    }

    /// Stores the value `push` pushes under the key in `key` into the table on top.
    @inline(__always)
    func set(_ L: OpaquePointer, _ key: Int32, _ push: () -> Void) {
        lua_pushvalue(L, key)
        push()
        lua_rawset(L, -3)
    }
}

/// What `pushEvent` did.
private enum PushedEvent {
    /// It pushed the event's table.
    case pushed
    /// It pushed nothing: the event's object was collected or never reached the script, or
    /// the event is a message after one its connection refused.
    case skipped
    /// Making a string failed (`setErrors`): the error is on top, and this is its status.
    case failed(Int32)
}

/// Pushes the table of one event (read in place). The object of an EVENT_CONNECT is pushed
/// empty and listed in `made.newObjects` (also when an earlier build that failed left it
/// empty), unless its server is closed; a message that no longer decodes is refused
/// (`made.refusals`). Holds no reference
/// while Lua may raise a memory error: its strings are pushed in protected mode, and
/// everything else it makes leaves nothing behind when unwound.
private func pushEvent(_ L: OpaquePointer, _ event: UnsafePointer<Event>, limits: CodecLimits, keys: KeyPusher,
                       slots: inout EventSlots, made: UnsafeMutablePointer<BuildResults>) -> PushedEvent {
    let kind = event.pointee.kind
    if kind == .receive && (event.pointee.source.refusedQueued || made.pointee.refused(event.pointee.source)) {
        return .skipped
    }
    let id = event.pointee.source.id
    if id != slots.objectID {
        let isConnect = kind == .connect
        if !pushExistingObject(L, id: id) {
            guard isConnect, isAnnounceable(event.pointee.source) else { return .skipped }
            _ = pushObjectSlot(L, id: id)
            made.pointee.newObjects.append(event.pointee.source)
        } else if isConnect && lua_touserdata(L, -1)!.load(as: UnsafeMutableRawPointer?.self) == nil {
            made.pointee.newObjects.append(event.pointee.source)
        }
        lua_copy(L, -1, slots.object)
        mmnet_pop(L, 1)
        slots.objectID = id
    }
    let hasMessage = event.pointee.message != nil
    // Event, Timestamp, Object, and Errors, Packet or Result (a malformed Packet becomes Errors).
    pushEventTable(L, kind: kind, timestamp: event.pointee.timestamp,
                   fields: 3 + (hasMessage ? 1 : 0) + (kind == .receive || kind == .connected ? 1 : 0), slots: slots)
    slots.set(L, slots.objectKey) { lua_pushvalue(L, slots.object) }
    if hasMessage {
        let status = setErrors(L, event.pointee.message!, slots: slots)
        guard status == LUA_OK else { return .failed(status) }
    }
    if kind == .receive {
        lua_pushvalue(L, slots.packetKey)
        if let error = pushPayload(L, of: event, limits: limits, keys: keys) {
            // Validated by the I/O thread under the limits then in force; they have been
            // lowered since: the script gets an EVENT_ERROR instead, then the close event.
            mmnet_pop(L, 1)
            slots.set(L, slots.eventKey) { lua_pushinteger(L, lua_Integer(EventKind.error.rawValue)) }
            let status = setErrors(L, error.message, slots: slots)
            guard status == LUA_OK else { return .failed(status) }
            if let connection = event.pointee.source as? Connection {
                made.pointee.refusals.append(Refusal(connection: connection, reason: error.message))
            }
        } else {
            lua_rawset(L, -3)
        }
    }
    if kind == .connected {
        slots.set(L, slots.resultKey) { lua_pushboolean(L, event.pointee.result ? 1 : 0) }
    }
    return .pushed
}

/// Whether the EVENT_CONNECT of `source` goes to the script: it is a connection whose server is
/// still open (one whose server was closed before the script saw it was closed with the server,
/// and no close event of it follows). A function of its own, so that the reference its cast
/// takes is let go before the caller makes the object's value, which may raise a memory error
/// past the caller's frame.
@inline(never)
private func isAnnounceable(_ source: Endpoint) -> Bool {
    guard let connection = source as? Connection else { return false }
    return connection.listener?.isClosed != true
}

/// Sets `.Errors` of the event table on top to `message`, made in protected mode. Returns
/// the status: `LUA_OK`, or with the error on top, `LUA_ERRMEM` when Lua had no memory for
/// it, another when a debug hook raised an error.
private func setErrors(_ L: OpaquePointer, _ message: String, slots: EventSlots) -> Int32 {
    lua_pushvalue(L, slots.errorsKey)
    let status = pushProtectedStatus(L, message)
    guard status == LUA_OK else { return status }
    lua_rawset(L, -3)
    return LUA_OK
}

/// Decodes the message body of `event` onto the stack (`pushDecodedValue`), holding no reference
/// while Lua runs: a memory error unwinds this frame (`buildEventTables`).
@inline(__always)
private func pushPayload(_ L: OpaquePointer, of event: UnsafePointer<Event>, limits: CodecLimits,
                         keys: KeyPusher) -> CodecError? {
    let payload = UnsafeRawPointer(event).advanced(by: MemoryLayout<Event>.offset(of: \Event.payload)!)
        .assumingMemoryBound(to: ByteBlock.self)
    guard let bytes = ByteBlock.unsafeBytes(of: payload) else {
        return event.pointee.payload.withUnsafeBytes { pushDecodedValue(L, $0, limits: limits, keys: keys) }
    }
    return pushDecodedValue(L, bytes, limits: limits, keys: keys)
}

/// Pushes a new event table with `.Event` and `.Timestamp`, sized for `fields` in all (its
/// fields are then set without growing it, so without allocating).
private func pushEventTable(_ L: OpaquePointer, kind: EventKind, timestamp: Double, fields: Int32, slots: EventSlots) {
    lua_createtable(L, 0, fields)
    slots.set(L, slots.eventKey) { lua_pushinteger(L, lua_Integer(kind.rawValue)) }
    slots.set(L, slots.timestampKey) { lua_pushnumber(L, timestamp) }
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
