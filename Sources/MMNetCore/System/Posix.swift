// Every system call mmnet makes, wrapped once: EINTR retried here, EAGAIN turned into
// `nil` ("would block"), any other failure thrown as `SystemError`.
//
// Thread: any (the I/O thread makes most calls; the Lua thread creates sockets and may write).
import CSystemShim
import Glibc

/// Thin wrappers around the POSIX calls of the socket layer.
public enum Posix {
    /// Runs `body` until it does not fail with EINTR; returns its result or throws.
    @inline(__always)
    private static func retrying<T: BinaryInteger>(_ call: String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let err = Glibc.errno
            if err == EINTR { continue }
            throw SystemError(call, errno: err)
        }
    }

    /// Like `retrying`, but EAGAIN/EWOULDBLOCK gives nil.
    @inline(__always)
    private static func nonBlocking<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T? {
        while true {
            let result = body()
            if result >= 0 { return result }
            let err = Glibc.errno
            if err == EINTR { continue }
            if err == EAGAIN || err == EWOULDBLOCK { return nil }
            throw SystemError(call, errno: err)
        }
    }

    /// socket(2), non-blocking and close-on-exec.
    public static func socket(family: Int32) throws -> Int32 {
        try retrying("socket") { mmnet_socket_nonblocking(family) }
    }

    /// setsockopt(2) with an Int32 value.
    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws {
        var v = value
        _ = try retrying("setsockopt") {
            setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// getsockopt(SO_ERROR): the pending error of a socket (0 when none).
    public static func pendingError(_ fd: Int32) throws -> Int32 {
        var value: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        _ = try retrying("getsockopt") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &size) }
        return value
    }

    /// bind(2).
    public static func bind(_ fd: Int32, _ address: SocketAddress) throws {
        _ = try address.withSockaddr { sa, len in
            try retrying("bind") { Glibc.bind(fd, sa, len) }
        }
    }

    /// listen(2).
    public static func listen(_ fd: Int32, backlog: Int32) throws {
        _ = try retrying("listen") { Glibc.listen(fd, backlog) }
    }

    /// connect(2) on a non-blocking socket: true when connected at once, false when in progress.
    public static func connect(_ fd: Int32, _ address: SocketAddress) throws -> Bool {
        try address.withSockaddr { sa, len in
            if Glibc.connect(fd, sa, len) == 0 {
                if isConnectedToItself(fd) { throw SystemError("connect", errno: ECONNREFUSED) }
                return true
            }
            let err = Glibc.errno
            if err == EINPROGRESS || err == EINTR { return false }
            throw SystemError("connect", errno: err)
        }
    }

    /// accept4(2), non-blocking and close-on-exec; nil when no connection is waiting.
    public static func accept(_ fd: Int32) throws(SystemError) -> (Int32, SocketAddress)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = try withUnsafeMutablePointer(to: &storage) { ptr throws(SystemError) in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                try nonBlocking("accept") {
                    mmnet_accept_nonblocking(fd, sa, &len)
                }
            }
        }
        guard let client else { return nil }
        return (client, SocketAddress(storage: storage))
    }

    /// read(2); nil when it would block, 0 at end of stream.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        try nonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes the `count` iovecs at `iov`: a writev(2) made as sendmsg(2) with MSG_NOSIGNAL, so
    /// that a peer that is gone never raises SIGPIPE. Nil when it would block.
    public static func writev(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, count: Int32) throws(SystemError) -> Int? {
        var message = msghdr()
        message.msg_iov = iov
        message.msg_iovlen = Int(count)
        return try nonBlocking("sendmsg") { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
    }

    /// shutdown(2) of both sides; errors are ignored. On a listening socket it stops listening
    /// at once (Linux), so that the port can be bound again before the socket is closed.
    public static func shutdownBoth(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// shutdown(2) of the write side; errors are ignored (the peer may be gone already).
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Makes the next close(2) of `fd` reset the connection (SO_LINGER with a time of 0) instead
    /// of ending it with a FIN; errors are ignored (a reset that cannot be arranged is a FIN).
    public static func resetOnClose(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    /// close(2). Errors are not reported: the descriptor is released either way on Linux.
    public static func close(_ fd: Int32) {
        _ = mmnet_close(fd)
    }

    /// The poll(2) event of a peer's end of stream (POLLRDHUP): it has shut down its writing,
    /// and what it sent before may still wait to be read.
    public static let pollPeerEnd = Int16(mmnet_pollrdhup)

    /// ppoll(2), the poll(2) with a timeout finer than a millisecond: `timeout` in seconds,
    /// nil to wait without a limit. Returns the number of ready descriptors (0 on timeout or EINTR).
    public static func poll(_ fds: UnsafeMutablePointer<pollfd>, count: Int, timeout: Double?) throws -> Int {
        let n = mmnet_ppoll(fds, nfds_t(count), timeout.map { Int64(max(0, $0) * 1e9) } ?? -1)
        if n >= 0 { return Int(n) }
        if Glibc.errno == EINTR { return 0 }
        throw SystemError("poll", errno: Glibc.errno)
    }

    /// Sleeps the calling thread for `seconds` (nanosleep(2); a signal may end it early).
    public static func pause(_ seconds: Double) {
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        _ = nanosleep(&time, nil)
    }

    /// eventfd(2), non-blocking and close-on-exec; `forHost`: one a host polls
    /// (`mmnet_eventfd`: a child of fork() keeps its number).
    public static func eventfd(forHost: Bool = false) throws -> Int32 {
        try retrying("eventfd") { mmnet_eventfd(forHost ? 1 : 0) }
    }

    /// Adds one to an eventfd counter (makes it readable).
    public static func signal(eventfd fd: Int32) {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Resets an eventfd counter to zero (makes it unreadable).
    public static func drain(eventfd fd: Int32) {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }

    /// Whether a connected TCP socket is connected to itself. A connect to a port of this host
    /// where nothing listens meets its own SYN when the kernel picks that very port as the
    /// source port (TCP simultaneous open), and the "peer" sends back whatever it is sent: a
    /// client that retried such a connect reported it connected after a few thousand tries,
    /// and received its own hello and messages. Nothing listens there: the caller takes it as
    /// a refused connect.
    public static func isConnectedToItself(_ fd: Int32) -> Bool {
        guard let local = try? localAddress(fd), let peer = try? peerAddress(fd) else { return false }
        return local == peer
    }

    /// getsockname(2).
    public static func localAddress(_ fd: Int32) throws -> SocketAddress {
        try address(of: fd, "getsockname") { getsockname($0, $1, $2) }
    }

    /// getpeername(2).
    public static func peerAddress(_ fd: Int32) throws -> SocketAddress {
        try address(of: fd, "getpeername") { getpeername($0, $1, $2) }
    }

    /// The address that `call`, the system call `name` (getsockname or getpeername), gives for `fd`.
    private static func address(
        of fd: Int32, _ name: String,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try retrying(name) { call(fd, sa, &len) }
            }
        }
        return SocketAddress(storage: storage)
    }
}
