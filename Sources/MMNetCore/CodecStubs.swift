// TEMPORARY until the codec branch merges.
public struct CodecLimits: Sendable { public var maxDepth: Int; public var maxSize: Int
  public init(maxDepth: Int = Defaults.maxDepth, maxSize: Int = Defaults.maxMessageSize) { self.maxDepth = maxDepth; self.maxSize = maxSize } }
public struct CodecError: Error, Sendable, CustomStringConvertible { public let message: String; public var description: String { message } }
public enum MessagePackValidator { public static func validate(_ bytes: UnsafeRawBufferPointer, limits: CodecLimits) -> CodecError? { bytes.count == 1 ? nil : CodecError(message: "stub") } }
