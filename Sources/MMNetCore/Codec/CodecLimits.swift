// CodecLimits: the nesting and size bounds the codec enforces on both directions.
//
// Thread: any (value type).

/// Bounds applied when encoding a table and when decoding bytes.
///
/// The defaults come from `Defaults`; `network.Configure` sets per-state values
/// (`Settings.codecLimits`).
/// The encoder and the reader recurse once per nesting level (the reader's frames take 0.5 to
/// 0.7 KiB of native stack a level in the release build: `MessagePackReader.readValue`), so a
/// `maxDepth` above `depthCeiling` is treated as `depthCeiling`; settings should refuse larger
/// values.
public struct CodecLimits: Sendable {
    /// The deepest nesting the codec ever follows, whatever `maxDepth` says (up to 700 KiB of
    /// native stack for the reader at this depth; `spec/deep_nesting_spec.lua` reads it with a
    /// stack of 1 MiB).
    public static let depthCeiling = 1000

    /// `maxDepth` as enforced: clamped to `0...depthCeiling`.
    @inlinable public var effectiveMaxDepth: Int { min(max(0, maxDepth), CodecLimits.depthCeiling) }

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
