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

/// The type and field of one setting, as `apply` reads it and `pushSettings` writes it.
private enum SettingField {
    /// An integer, in `unit` (said in the error for a value of another type).
    case integer(WritableKeyPath<Settings, Int>, unit: String?)
    /// A number of seconds.
    case seconds(WritableKeyPath<Settings, Double>)
    /// `QueueFull`: "drop" or "wait".
    case queueFull
}

/// Every setting by its name in Lua (the user's document and docs/API.md, "Settings"); the
/// names are static (`pushSettings` sets fields with them without making a string).
private let settingFields: [(name: StaticString, field: SettingField)] = [
    ("MaxMessageSize", .integer(\.maxMessageSize, unit: "bytes")),
    ("MaxDepth", .integer(\.maxDepth, unit: nil)),
    ("SendQueueLimit", .integer(\.sendQueueLimit, unit: "bytes")),
    ("EventQueueSize", .integer(\.eventQueueSize, unit: "events")),
    ("EventQueueBytes", .integer(\.eventQueueBytes, unit: "bytes")),
    ("HelloTimeout", .seconds(\.helloTimeout)),
    ("PingInterval", .seconds(\.pingInterval)),
    ("PeerTimeout", .seconds(\.peerTimeout)),
    ("SpinWait", .seconds(\.spinWait)),
    ("QueueFull", .queueFull),
]

/// Applies the key (at -2) and value (at -1) to `settings`; returns the problem, if any.
/// Only the type is checked here; `Settings.problem` checks the ranges.
private func apply(_ L: OpaquePointer, to settings: inout Settings) -> String? {
    guard let name = stringArgument(L, -2) else { return "setting names are strings" }
    guard let field = settingFields.first(where: { $0.name.description == name })?.field else {
        return "unknown setting '\(name)'"
    }
    switch field {
    case .integer(let path, let unit):
        var isInteger: Int32 = 0
        let value = lua_tointegerx(L, -1, &isInteger)
        guard lua_type(L, -1) == LUA_TNUMBER && isInteger != 0 else {
            return "\(name) must be an integer" + (unit.map { " (\($0))" } ?? "")
        }
        settings[keyPath: path] = Int(value)
    case .seconds(let path):
        guard lua_type(L, -1) == LUA_TNUMBER else { return "\(name) must be a number (seconds)" }
        settings[keyPath: path] = lua_tonumberx(L, -1, nil)
    case .queueFull:
        guard let text = stringArgument(L, -1), let policy = QueueFullPolicy(rawValue: text) else {
            return "QueueFull must be \"drop\" or \"wait\""
        }
        settings.queueFull = policy
    }
    return nil
}

/// Pushes a table of every setting.
private func pushSettings(_ L: OpaquePointer, _ settings: Settings) {
    lua_createtable(L, 0, Int32(settingFields.count))
    for (name, field) in settingFields {
        switch field {
        case .integer(let path, _): lua_pushinteger(L, lua_Integer(settings[keyPath: path]))
        case .seconds(let path): lua_pushnumber(L, settings[keyPath: path])
        case .queueFull: push(L, settings.queueFull.rawValue)  // "drop" or "wait": no string storage
        }
        lua_setfield(L, -2, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self))
    }
}
