// Socket options every mmnet connection gets, and opening a client socket.
//
// Thread: `configure` any; `connect` the Lua thread only (it takes the state's client TLS
// contexts).
import Glibc

/// Helpers for connection sockets.
public enum Socket {
    /// Sets TCP_NODELAY (mmnet coalesces writes itself) and TCP keepalive (a backstop for dead
    /// peers). Failures are ignored: these are optimisations, not requirements.
    static func configure(_ fd: Int32) {
        try? Posix.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        try? Posix.setOption(fd, level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1)
    }

    /// Opens a client connection to `address` for `context` (Lua thread), encrypted with `key`
    /// when given (with the state's TLS context for that key): the non-blocking connect starts
    /// here, and the I/O thread finishes it.
    /// Throws what the system or OpenSSL refused.
    public static func connect(to address: SocketAddress, key: PresharedKey?, context: ScriptContext) throws -> Connection {
        let tls = try key.map { key throws(TLSError) in
            try TLSSession(context: context.clientTLSContexts.clientContext(for: key))
        }
        let fd = try Posix.socket(family: address.family)
        let connected: Bool
        do {
            configure(fd)
            connected = try Posix.connect(fd, address)
        } catch {
            Posix.close(fd)
            throw error
        }
        let connection = Connection(fd: fd, peer: address, role: .client, listener: nil,
                                    context: context, io: context.io, connected: connected, tls: tls)
        connection.startHello(timeout: context.settings.helloTimeout)
        context.io.submit(.connect(connection))
        return connection
    }
}
