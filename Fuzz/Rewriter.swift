// Fuzz support: a MessagePack visitor that writes back what the reader reports, so a fuzz
// target can check that whatever the decoder accepts re-encodes to bytes it accepts again,
// and that a second round changes nothing.
//
// Thread: the fuzzer's thread only.

/// Owns the output of a `Rewriter` (ByteWriter is non-copyable; visitors must be copyable).
final class RewriteOutput {
    /// The re-encoded message.
    var writer = ByteWriter(limit: 64 * 1024 * 1024)
}

/// Re-encodes each value the reader visits with mmnet's own writer.
struct Rewriter: MessagePackVisitor {
    /// Where the bytes go.
    let out = RewriteOutput()

    /// Any failure of the writer ends the run: the limit is far above any fuzz input's size.
    private func check(_ body: (inout ByteWriter) throws(ByteWriterOverflow) -> Void) {
        do { try body(&out.writer) } catch { fatalError("rewrite overflowed its 64 MiB limit") }
    }

    /// Writes a nil.
    mutating func visitNil() { check { w throws(ByteWriterOverflow) in try w.writeNil() } }
    /// Writes a boolean.
    mutating func visitBool(_ value: Bool) { check { w throws(ByteWriterOverflow) in try w.writeBool(value) } }
    /// Writes an integer.
    mutating func visitInt(_ value: Int64) { check { w throws(ByteWriterOverflow) in try w.writeInt(value) } }
    /// Writes a float.
    mutating func visitFloat(_ value: Double) { check { w throws(ByteWriterOverflow) in try w.writeDouble(value) } }
    /// Writes a string.
    mutating func visitString(_ bytes: UnsafeRawBufferPointer) {
        check { w throws(ByteWriterOverflow) in
            try w.writeString(bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: bytes.count)
        }
    }
    /// Writes an array header.
    mutating func beginArray(count: Int) { check { w throws(ByteWriterOverflow) in try w.writeArrayHeader(count) } }
    /// Nothing to write between elements.
    mutating func endArrayElement(index: Int) {}
    /// Nothing to write at the end of an array.
    mutating func endArray() {}
    /// Writes a map header.
    mutating func beginMap(count: Int) { check { w throws(ByteWriterOverflow) in try w.writeMapHeader(count) } }
    /// Nothing to write between pairs.
    mutating func endMapEntry() {}
    /// Nothing to write at the end of a map.
    mutating func endMap() {}
}

/// Reads `bytes` with `limits` and returns the re-encoding, or nil if the reader refuses them.
func rewrite(_ bytes: UnsafeRawBufferPointer, limits: CodecLimits) -> [UInt8]? {
    var visitor = Rewriter()
    do {
        try MessagePackReader.read(bytes, limits: limits, visitor: &visitor, followingKeys: true)  // as the validator
    } catch {
        if error.message.isEmpty { fatalError("a refusal without a reason") }
        return nil
    }
    return visitor.out.writer.makeArray()
}

/// The checks every accepted message must pass: the validator agrees with the reader, the
/// re-encoding is accepted, and re-encoding that changes nothing.
func checkMessage(_ bytes: UnsafeRawBufferPointer, limits: CodecLimits) {
    let once = rewrite(bytes, limits: limits)
    let valid = MessagePackValidator.validate(bytes, limits: limits) == nil
    if valid != (once != nil) { fatalError("validator and reader disagree") }
    guard let once else { return }
    let twice = once.withUnsafeBytes { rewrite($0, limits: CodecLimits(maxDepth: limits.maxDepth, maxSize: Int.max)) }
    guard let twice else { fatalError("the re-encoding of an accepted message is refused") }
    if twice != once { fatalError("re-encoding is not stable") }
}
