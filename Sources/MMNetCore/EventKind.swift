// The six event codes of the user's document (`network.EVENT_*`).
//
// Thread: any (value type).

/// What happened, as reported to a script by `network.PollEvents`.
public enum EventKind: Int32, CaseIterable, Sendable {
    /// A client connected to a server (server side; `.Object` is the new ClientConnection).
    case connect = 1
    /// A client's connection attempt finished (client side; `.Result` says whether it worked).
    case connected = 2
    /// A table arrived (`.Packet`).
    case receive = 3
    /// The server closed the connection (client side).
    case serverClose = 4
    /// A client connection closed (server side).
    case clientClose = 5
    /// Something went wrong on a server or client (`.Errors` says what).
    case error = 6

    /// The name the Lua module exports the code under, e.g. `EVENT_CONNECT`.
    public var luaName: String {
        switch self {
        case .connect: return "EVENT_CONNECT"
        case .connected: return "EVENT_CONNECTED"
        case .receive: return "EVENT_RECEIVE"
        case .serverClose: return "EVENT_SERVER_CLOSE"
        case .clientClose: return "EVENT_CLIENT_CLOSE"
        case .error: return "EVENT_ERROR"
        }
    }
}
