// A server's listening socket and the set of its open client connections.
//
// Thread: both. The socket is the I/O thread's; the set of connections (`members`) is guarded
// by `lock` (the I/O thread adds and removes, the Lua thread reads it for Broadcast and
// ConnectionCount).
import Glibc

/// The listening side of a `network.Server`.
public final class Listener: Endpoint, @unchecked Sendable {
    /// The listening socket.
    public let fd: Int32
    /// The address and port it is bound to (the port the OS chose, when asked for 0).
    public let address: SocketAddress
    /// The I/O thread that owns the socket.
    let io: IOThread
    /// The TLS context every accepted connection's session is made from, when encrypted.
    let tlsContext: TLSContext?

    private let lock = Lock()
    private var members: [Int64: Connection] = [:]
    private var closed = false

    // I/O thread only.
    /// Index of this listener's entry in the I/O thread's poll set.
    var pollIndex = -1
    /// Accepting paused until this time after running out of descriptors (monotonic seconds).
    var pausedUntil = 0.0
    /// Accepting stopped because the state's event ring is full in `QueueFull = "wait"` mode,
    /// until the script polls (`IOThread.resumeReading`).
    var acceptHeld = false
    /// The errno of the accept failure reported last, until an accept succeeds again (I/O
    /// thread only): a failure that repeats at every retry (out of descriptors) is reported
    /// once, not ten times a second.
    var failingAccept: Int32 = 0

    /// Opens a listening socket on `address` (Lua thread), encrypting its connections with
    /// `key` when given; throws what the system or OpenSSL refused.
    public init(address: SocketAddress, key: PresharedKey?, context: ScriptContext, io: IOThread) throws {
        let tlsContext = try key.map { key throws(TLSError) in try TLSContext(key: key, role: .server) }
        let fd = try Posix.socket(family: address.family)
        do {
            try Posix.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if address.family == AF_INET6 {
                try Posix.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1)
            }
            try Posix.bind(fd, address)
            try Posix.listen(fd, backlog: 1024)
            self.address = try Posix.localAddress(fd)
        } catch {
            Posix.close(fd)
            throw error
        }
        self.fd = fd
        self.io = io
        self.tlsContext = tlsContext
        super.init(context: context)
        io.submit(.listen(self))
    }

    /// The open connections (any thread), in no particular order.
    public var connections: [Connection] { lock.withLock { Array(members.values) } }

    /// How many connections are open (any thread).
    public var connectionCount: Int { lock.withLock { members.count } }

    /// Whether the server was closed (any thread): by the script, or with its Lua value.
    public var isClosed: Bool { lock.withLock { closed } }

    /// Whether `connection` is one of this server's open connections (any thread).
    public func owns(_ connection: Connection) -> Bool {
        lock.withLock { members[connection.id] != nil }
    }

    /// Adds a connection whose hello completed (I/O thread). False when the server is closed.
    func add(_ connection: Connection) -> Bool {
        lock.withLock {
            if closed { return false }
            members[connection.id] = connection
            return true
        }
    }

    /// Removes a connection that is closing (any thread).
    func remove(_ connection: Connection) {
        lock.withLock { _ = members.removeValue(forKey: connection.id) }
    }

    /// Closes the server (Lua thread): stops accepting and closes every connection gracefully.
    public func close() {
        let all: [Connection]? = lock.withLock {
            if closed { return nil }
            closed = true
            defer { members.removeAll() }
            return Array(members.values)
        }
        guard let all else { return }
        // Stop listening now, from this thread: the I/O thread closes the socket only when it
        // next runs its commands, and until then the port stayed bound. A script that dropped
        // its server and collected it (a game changing maps) got "Address already in use"
        // from a Server made on the same port right after. The socket stays open, so its
        // descriptor cannot be reused while the I/O thread may still poll or accept on it
        // (accept then fails with EINVAL, which `IOThread.accept` ignores once closed).
        Posix.shutdownBoth(fd)
        io.submit(.unlisten(self))
        for connection in all { connection.requestClose(reason: "server closed") }
    }
}
