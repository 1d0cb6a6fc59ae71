// TLSError: the one error type of the TLS engine, with a readable message and a kind the I/O
// thread can act on. Built from OpenSSL's error queue, which is drained into it (never left for
// the next operation or the next connection to find).
//
// Thread: any (value type).

/// A TLS failure: a bad key string, a failed handshake, a damaged record, a misuse.
///
/// The message is user-facing (it becomes an event's `Errors` text) and never contains key
/// material: it is built from mmnet's own words and OpenSSL's reason strings.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely, for code that reacts to it.
    public enum Kind: Sendable, Equatable {
        /// The key string is not 32 or 64 hex digits.
        case badKey
        /// The two sides hold different keys (or keys of different sizes).
        case wrongKey
        /// The peer does not speak TLS; e.g. it sent a plain mmnet hello (it has no key).
        case notEncrypted
        /// A record failed its integrity check: the bytes were changed on the way.
        case tampered
        /// The peer sent a fatal alert (e.g. it found our records damaged).
        case peerAlert
        /// Any other protocol failure (malformed records, unexpected messages).
        case protocolFailure
        /// The engine was used out of order (e.g. writing before the handshake completed).
        case misuse
        /// OpenSSL could not set up (out of memory, missing cipher).
        case setup
    }

    /// The kind of failure.
    public let kind: Kind
    /// The user-facing message, e.g. "TLS handshake failed: the two sides use different keys
    /// (binder does not verify)".
    public let message: String

    /// Creates an error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
