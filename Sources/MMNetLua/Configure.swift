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
    // The table and the error are made here, once `configureSettings` (and the references it
    // held) is gone: making them may raise a memory error.
    switch configureSettings(L) {
    case .inForce(let settings):
        pushSettings(L, settings)
        return 1
    case .refused(let problem):
        return raise(L, problem)
    case .status(let status):
        return status
    }
}

/// What `configureSettings` came to.
private enum Configured {
    /// The settings now in force.
    case inForce(Settings)
    /// The error to raise.
    case refused(String)
    /// The status of an argument error (pushed).
    case status(Int32)
}

/// Applies the table at 1, if any, to this state's settings. Reads the table without
/// allocating (`lua_next`, numbers and strings as they are), so Lua raises nothing here.
private func configureSettings(_ L: OpaquePointer) -> Configured {
    guard let binding = Binding.current(L), let context = binding.context else {
        return .refused(Binding.current(L)?.startupError ?? "mmnet is not open in this state")
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
                return .refused("Configure: \(problem)")
            }
            mmnet_pop(L, 1)
        }
        if let problem = context.configure(settings) {
            return .refused("Configure: \(problem)")
        }
        binding.codecLimits = settings.codecLimits
    default:
        return .status(argumentTypeError(L, 1, expected: "table"))
    }
    return .inForce(context.settings)
}

/// One setting, by its name in Lua (the user's document and docs/API.md, "Settings"). An
/// enum read through switches, not a table of key paths: a global table and the key paths it
/// holds would be allocated once per load of the library and lost when Lua unloads it.
private enum Setting: Int {
    case maxMessageSize, maxDepth, sendQueueLimit, eventQueueSize, eventQueueBytes
    case helloTimeout, pingInterval, peerTimeout, spinWait, queueFull

    /// How many settings there are: they are walked by index, without an array
    /// (`pushSettings` runs Lua calls that may raise a memory error past its frame, which must
    /// hold nothing allocated).
    static let count = queueFull.rawValue + 1  // queueFull is the last case
    /// The setting at `index` (0 to `count - 1`), in order.
    static func at(_ index: Int) -> Setting { Setting(rawValue: index)! }

    /// The setting called `name`, if any.
    static func named(_ name: String) -> Setting? {
        (0..<count).lazy.map(at).first { $0.name.description == name }
    }

    /// Its name in Lua; static, so that `pushSettings` sets fields without making a string.
    var name: StaticString {
        switch self {
        case .maxMessageSize: "MaxMessageSize"
        case .maxDepth: "MaxDepth"
        case .sendQueueLimit: "SendQueueLimit"
        case .eventQueueSize: "EventQueueSize"
        case .eventQueueBytes: "EventQueueBytes"
        case .helloTimeout: "HelloTimeout"
        case .pingInterval: "PingInterval"
        case .peerTimeout: "PeerTimeout"
        case .spinWait: "SpinWait"
        case .queueFull: "QueueFull"
        }
    }

    /// The unit of an integer setting, said in the error for a value of another type ("" for
    /// none); nil for a setting that is not an integer.
    var integerUnit: String? {
        switch self {
        case .maxMessageSize, .sendQueueLimit, .eventQueueBytes: "bytes"
        case .eventQueueSize: "events"
        case .maxDepth: ""
        default: nil
        }
    }

    /// The value of an integer setting (nil for the others).
    func integer(in settings: Settings) -> Int? {
        switch self {
        case .maxMessageSize: settings.maxMessageSize
        case .maxDepth: settings.maxDepth
        case .sendQueueLimit: settings.sendQueueLimit
        case .eventQueueSize: settings.eventQueueSize
        case .eventQueueBytes: settings.eventQueueBytes
        default: nil
        }
    }

    /// The value of a setting in seconds (nil for the others).
    func seconds(in settings: Settings) -> Double? {
        switch self {
        case .helloTimeout: settings.helloTimeout
        case .pingInterval: settings.pingInterval
        case .peerTimeout: settings.peerTimeout
        case .spinWait: settings.spinWait
        default: nil
        }
    }

    /// Sets an integer setting (the others are left alone).
    func set(_ value: Int, in settings: inout Settings) {
        switch self {
        case .maxMessageSize: settings.maxMessageSize = value
        case .maxDepth: settings.maxDepth = value
        case .sendQueueLimit: settings.sendQueueLimit = value
        case .eventQueueSize: settings.eventQueueSize = value
        case .eventQueueBytes: settings.eventQueueBytes = value
        default: break
        }
    }

    /// Sets a setting in seconds (the others are left alone).
    func set(seconds value: Double, in settings: inout Settings) {
        switch self {
        case .helloTimeout: settings.helloTimeout = value
        case .pingInterval: settings.pingInterval = value
        case .peerTimeout: settings.peerTimeout = value
        case .spinWait: settings.spinWait = value
        default: break
        }
    }
}

/// Applies the key (at -2) and value (at -1) to `settings`; returns the problem, if any.
/// Only the type is checked here; `Settings.problem` checks the ranges.
private func apply(_ L: OpaquePointer, to settings: inout Settings) -> String? {
    guard let name = stringArgument(L, -2) else { return "setting names are strings" }
    guard let setting = Setting.named(name) else {
        return "unknown setting '\(name)'"
    }
    if let unit = setting.integerUnit {
        var isInteger: Int32 = 0
        let value = lua_tointegerx(L, -1, &isInteger)
        guard lua_type(L, -1) == LUA_TNUMBER && isInteger != 0 else {
            return "\(name) must be an integer" + (unit.isEmpty ? "" : " (\(unit))")
        }
        setting.set(Int(value), in: &settings)
    } else if setting == .queueFull {
        guard let text = stringArgument(L, -1), let policy = QueueFullPolicy(rawValue: text) else {
            return "QueueFull must be \"drop\" or \"wait\""
        }
        settings.queueFull = policy
    } else {
        guard lua_type(L, -1) == LUA_TNUMBER else { return "\(name) must be a number (seconds)" }
        setting.set(seconds: lua_tonumberx(L, -1, nil), in: &settings)
    }
    return nil
}

/// Pushes a table of every setting.
private func pushSettings(_ L: OpaquePointer, _ settings: Settings) {
    lua_createtable(L, 0, Int32(Setting.count))
    for index in 0..<Setting.count {
        let setting = Setting.at(index)
        if let value = setting.integer(in: settings) {
            lua_pushinteger(L, lua_Integer(value))
        } else if let value = setting.seconds(in: settings) {
            lua_pushnumber(L, value)
        } else {
            push(L, settings.queueFull.rawValue)  // "drop" or "wait": no string storage
        }
        lua_setfield(L, -2, UnsafeRawPointer(setting.name.utf8Start).assumingMemoryBound(to: CChar.self))
    }
}
