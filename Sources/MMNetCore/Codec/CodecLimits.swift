// CodecLimits: the nesting and size bounds the codec enforces on both directions.
//
// Thread: any (value type).

/// Bounds applied when encoding a table and when decoding bytes.
///
/// The defaults come from `Defaults`; `network.Configure` will set per-state values.
/// Both the encoder and the reader recurse once per nesting level, so callers that let scripts
/// raise `maxDepth` should keep it to a few thousand at most.
public struct CodecLimits: Sendable {
    /// Deepest nesting of tables (the message table itself is depth 1).
    public var maxDepth: Int
    /// Largest MessagePack encoding, in bytes (frame headers not included).
    public var maxSize: Int

    /// Creates limits.
    /// - Parameters:
    ///   - maxDepth: deepest nesting accepted; default `Defaults.maxDepth` (64).
    ///   - maxSize: largest encoding accepted, in bytes; default `Defaults.maxMessageSize` (16 MiB).
    public init(maxDepth: Int = Defaults.maxDepth, maxSize: Int = Defaults.maxMessageSize) {
        self.maxDepth = maxDepth
        self.maxSize = maxSize
    }
}
