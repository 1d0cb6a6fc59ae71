// ChildProcess: a program the tests start (the `openssl` command), with its stdin kept open as
// a pipe and its stdout+stderr read through another, every read under a deadline. Plus the
// blocking loopback sockets the interop tests talk to it through.
//
// Thread: test runner thread.
import Glibc
import XCTest

/// A running child process with piped stdin and stdout (stderr joined to stdout).
final class ChildProcess {
    let pid: pid_t
    private var stdinFD: Int32
    private let stdoutFD: Int32
    /// Everything the child has printed so far.
    private(set) var output = ""

    /// Starts `arguments[0]` (a path) with `arguments`.
    init(_ arguments: [String]) throws {
        var input: [Int32] = [0, 0]
        var out: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&out) == 0 else { throw ChildProcess.failure("pipe") }
        for fd in input + out { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, out[1], 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        close(input[0])
        close(out[1])
        guard result == 0 else {
            close(input[1])
            close(out[0])
            throw ChildProcess.failure("posix_spawn \(arguments[0]): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        stdinFD = input[1]
        stdoutFD = out[0]
        _ = fcntl(stdoutFD, F_SETFL, fcntl(stdoutFD, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if stdinFD >= 0 { close(stdinFD) }
        close(stdoutFD)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// Writes `text` to the child's stdin.
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
    }

    /// Reads output until `predicate` holds for it or the deadline passes; returns whether it held.
    @discardableResult
    func waitForOutput(_ deadline: Deadline, _ predicate: (String) -> Bool) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !predicate(output) {
            if deadline.expired { return false }
            var pfd = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 50)
            let count = read(stdoutFD, &buffer, buffer.count)
            if count > 0 { output += String(decoding: buffer[0..<count], as: UTF8.self) }
            if count == 0 { return predicate(output) }  // the child closed its output
        }
        return true
    }

    /// An error naming a failed step.
    static func failure(_ what: String) -> Error { TLSInteropFailure(message: what) }
}

/// A failure in the test harness itself (not in the code under test).
struct TLSInteropFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The path of `name` in PATH, or nil.
func executable(_ name: String) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") where access("\(directory)/\(name)", X_OK) == 0 {
        return "\(directory)/\(name)"
    }
    return nil
}

/// A blocking TCP socket connected to 127.0.0.1:`port`.
func connectLoopback(port: UInt16) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopback(port: port)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard fd >= 0, result == 0 else {
        close(fd)
        throw ChildProcess.failure("connect to port \(port): \(String(cString: strerror(errno)))")
    }
    return fd
}

/// A listening TCP socket on 127.0.0.1 and the port the system chose.
func listenLoopback() throws -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard fd >= 0, ok else { throw ChildProcess.failure("listen: \(String(cString: strerror(errno)))") }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// Accepts one connection on `fd` before the deadline.
func acceptOne(_ fd: Int32, _ deadline: Deadline) throws -> Int32 {
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    while poll(&pfd, 1, 50) == 0 {
        if deadline.expired { throw ChildProcess.failure("no connection before the deadline") }
    }
    let client = accept(fd, nil, nil)
    guard client >= 0 else { throw ChildProcess.failure("accept: \(String(cString: strerror(errno)))") }
    return client
}

/// sockaddr_in for 127.0.0.1:`port`.
private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
