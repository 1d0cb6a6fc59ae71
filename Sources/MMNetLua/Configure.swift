// `network.Configure([t])`: read and set the settings of this Lua state.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// `settings = network.Configure([t])`: sets the fields of `t` that are given (unknown names,
/// wrong types and values out of range raise an error and change nothing), then returns a
/// table of every setting in force.
func configure(_ L: OpaquePointer?) -> Int32 {
    let L = L!
    guard let binding = Binding.current(L), let context = binding.context else {
        return raise(L, Binding.current(L)?.startupError ?? "mmnet is not open in this state")
    }
    var settings = context.settings
    switch lua_type(L, 1) {
    case LUA_TNONE, LUA_TNIL:
        break
    case LUA_TTABLE:
        lua_pushnil(L)
        while lua_next(L, 1) != 0 {
            if let problem = apply(L, to: &settings) {
                mmnet_pop(L, 2)
                return raise(L, "Configure: \(problem)")
            }
            mmnet_pop(L, 1)
        }
        if let problem = context.configure(settings) {
            return raise(L, "Configure: \(problem)")
        }
        binding.codecLimits = settings.codecLimits
    default:
        return argumentTypeError(L, 1, expected: "table")
    }
    pushSettings(L, context.settings)
    return 1
}

/// Applies the key (at -2) and value (at -1) to `settings`; returns the problem, if any.
private func apply(_ L: OpaquePointer, to settings: inout Settings) -> String? {
    guard let name = stringArgument(L, -2) else { return "setting names are strings" }
    func integer() -> Int? {
        var isInteger: Int32 = 0
        let value = lua_tointegerx(L, -1, &isInteger)
        return lua_type(L, -1) == LUA_TNUMBER && isInteger != 0 ? Int(value) : nil
    }
    func number() -> Double? {
        lua_type(L, -1) == LUA_TNUMBER ? lua_tonumberx(L, -1, nil) : nil
    }
    switch name {
    case "MaxMessageSize":
        guard let value = integer() else { return "MaxMessageSize must be an integer (bytes)" }
        settings.maxMessageSize = value
    case "MaxDepth":
        guard let value = integer() else { return "MaxDepth must be an integer" }
        settings.maxDepth = value
    case "SendQueueLimit":
        guard let value = integer() else { return "SendQueueLimit must be an integer (bytes)" }
        settings.sendQueueLimit = value
    case "EventQueueSize":
        guard let value = integer() else { return "EventQueueSize must be an integer (events)" }
        settings.eventQueueSize = value
    case "EventQueueBytes":
        guard let value = integer() else { return "EventQueueBytes must be an integer (bytes)" }
        settings.eventQueueBytes = value
    case "HelloTimeout":
        guard let value = number() else { return "HelloTimeout must be a number (seconds)" }
        settings.helloTimeout = value
    case "PingInterval":
        guard let value = number() else { return "PingInterval must be a number (seconds)" }
        settings.pingInterval = value
    case "PeerTimeout":
        guard let value = number() else { return "PeerTimeout must be a number (seconds)" }
        settings.peerTimeout = value
    case "SpinWait":
        guard let value = number() else { return "SpinWait must be a number (seconds)" }
        settings.spinWait = value
    case "QueueFull":
        guard let text = stringArgument(L, -1), let policy = QueueFullPolicy(rawValue: text) else {
            return "QueueFull must be \"drop\" or \"wait\""
        }
        settings.queueFull = policy
    default:
        return "unknown setting '\(name)'"
    }
    return nil
}

/// Pushes a table of every setting.
private func pushSettings(_ L: OpaquePointer, _ settings: Settings) {
    lua_createtable(L, 0, 10)
    lua_pushinteger(L, lua_Integer(settings.maxMessageSize))
    lua_setfield(L, -2, "MaxMessageSize")
    lua_pushinteger(L, lua_Integer(settings.maxDepth))
    lua_setfield(L, -2, "MaxDepth")
    lua_pushinteger(L, lua_Integer(settings.sendQueueLimit))
    lua_setfield(L, -2, "SendQueueLimit")
    lua_pushinteger(L, lua_Integer(settings.eventQueueSize))
    lua_setfield(L, -2, "EventQueueSize")
    lua_pushinteger(L, lua_Integer(settings.eventQueueBytes))
    lua_setfield(L, -2, "EventQueueBytes")
    lua_pushnumber(L, settings.helloTimeout)
    lua_setfield(L, -2, "HelloTimeout")
    push(L, settings.queueFull.rawValue)
    lua_setfield(L, -2, "QueueFull")
    lua_pushnumber(L, settings.pingInterval)
    lua_setfield(L, -2, "PingInterval")
    lua_pushnumber(L, settings.peerTimeout)
    lua_setfield(L, -2, "PeerTimeout")
    lua_pushnumber(L, settings.spinWait)
    lua_setfield(L, -2, "SpinWait")
}
