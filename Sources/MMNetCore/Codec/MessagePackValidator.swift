// MessagePackValidator: checks that bytes are one well-formed mmnet message, without Lua.
//
// Thread: any (the I/O thread validates each frame before queuing it).

/// Validates MessagePack message bodies with the same rules as the Lua decoder.
public enum MessagePackValidator {
    /// Checks `bytes` the way `network.Decode` would, building nothing, and also refuses number
    /// keys chosen to collide in Lua's tables (`LuaKeyChains`).
    /// - Parameters:
    ///   - bytes: a message body.
    ///   - limits: the size and nesting limits in force.
    /// - Returns: nil when the bytes are exactly one well-formed map or array within the limits
    ///   with no trailing bytes; otherwise the reason, as a script would see it.
    public static func validate(_ bytes: UnsafeRawBufferPointer, limits: CodecLimits) -> CodecError? {
        var visitor = NullVisitor()
        do {
            try MessagePackReader.read(bytes, limits: limits, visitor: &visitor, followingKeys: true)
            return nil
        } catch {
            return error
        }
    }
}

/// A visitor that does nothing: running the reader with it only validates.
public struct NullVisitor: MessagePackVisitor {
    /// Creates the visitor.
    @inlinable public init() {}
    // Every callback below does nothing: the reader's own checks are the validation.
    /// Ignores a nil.
    @inlinable public mutating func visitNil() {}
    /// Ignores a boolean.
    @inlinable public mutating func visitBool(_ value: Bool) {}
    /// Ignores an integer.
    @inlinable public mutating func visitInt(_ value: Int64) {}
    /// Ignores a float.
    @inlinable public mutating func visitFloat(_ value: Double) {}
    /// Ignores a string.
    @inlinable public mutating func visitString(_ bytes: UnsafeRawBufferPointer) {}
    /// Ignores an array start.
    @inlinable public mutating func beginArray(count: Int) {}
    /// Ignores an element end.
    @inlinable public mutating func endArrayElement(index: Int) {}
    /// Ignores an array end.
    @inlinable public mutating func endArray() {}
    /// Ignores a map start.
    @inlinable public mutating func beginMap(count: Int) {}
    /// Ignores a pair end.
    @inlinable public mutating func endMapEntry() {}
    /// Ignores a map end.
    @inlinable public mutating func endMap() {}
}
