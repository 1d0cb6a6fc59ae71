// MessagePackVisitor: what MessagePackReader reports as it walks the bytes, in document order.
//
// Thread: whichever thread runs the reader (the Lua binding's visitor: Lua thread only; the
// validator's: any thread).

/// Receives the values of a MessagePack document from `MessagePackReader`, depth first.
///
/// For an array the reader calls `beginArray`, then for each element the element's own calls
/// followed by `endArrayElement`, then `endArray`. For a map: `beginMap`, then for each pair the
/// key's calls, the value's calls and `endMapEntry`, then `endMap`. Counts have been checked
/// against the bytes that remain before `beginArray`/`beginMap` is called. The reader is generic
/// over the visitor, so each visitor gets its own specialised copy: no dynamic dispatch.
public protocol MessagePackVisitor {
    /// A nil (never a map key: the reader refuses those).
    mutating func visitNil() throws(CodecError)
    /// A boolean.
    mutating func visitBool(_ value: Bool) throws(CodecError)
    /// An integer of any MessagePack int form, within Int64.
    mutating func visitInt(_ value: Int64) throws(CodecError)
    /// A float32 (widened) or float64 (never a NaN map key: the reader refuses those).
    mutating func visitFloat(_ value: Double) throws(CodecError)
    /// A str or bin, as raw bytes; the pointer is valid only during the call.
    mutating func visitString(_ bytes: UnsafeRawBufferPointer) throws(CodecError)
    /// A str or bin that is a map key (keys repeat from message to message, values mostly do
    /// not); by default the same as `visitString`.
    mutating func visitKeyString(_ bytes: UnsafeRawBufferPointer) throws(CodecError)
    /// The start of an array of `count` elements.
    mutating func beginArray(count: Int) throws(CodecError)
    /// The element at 1-based `index` has just been visited.
    mutating func endArrayElement(index: Int) throws(CodecError)
    /// The end of the current array.
    mutating func endArray()
    /// The start of a map of `count` pairs.
    mutating func beginMap(count: Int) throws(CodecError)
    /// A key and its value have just been visited.
    mutating func endMapEntry() throws(CodecError)
    /// The end of the current map.
    mutating func endMap()
}

extension MessagePackVisitor {
    /// A map key's bytes reported as any other string.
    @inlinable @inline(__always)
    public mutating func visitKeyString(_ bytes: UnsafeRawBufferPointer) throws(CodecError) {
        try visitString(bytes)
    }
}
