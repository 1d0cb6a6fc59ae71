// CodecError: why a table could not be encoded, or bytes could not be decoded.
//
// Thread: any (value type).

/// A refusal of the MessagePack codec, with the text a script sees.
///
/// Encoding errors name the place in the table (`packet.list[3].f: function values cannot be
/// sent`); decoding errors name the byte offset where the input went wrong.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// The user-facing message.
    public let message: String

    /// Creates an error with the given user-facing message.
    /// - Parameter message: the text returned to the script as the second result.
    public init(message: String) {
        self.message = message
    }

    /// The user-facing message.
    public var description: String { message }
}
