// The one error type for failed system calls.
//
// Thread: any (value type).
import Glibc

/// A system call that failed: its name and errno.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// The call that failed, e.g. "bind".
    public let call: String
    /// The errno it set.
    public let errno: Int32

    /// Creates an error for `call` with `errno`.
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The text of the errno, as strerror gives it (e.g. "Connection refused").
    public var reason: String { String(cString: strerror(errno)) }

    /// "call: reason", for messages shown to scripts.
    public var description: String { "\(call): \(reason)" }
}
