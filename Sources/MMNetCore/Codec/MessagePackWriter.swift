// MessagePackWriter: MessagePack's encodings of one value each, appended to a ByteWriter.
//
// Thread: any (works on a writer its caller owns).

extension ByteWriter {
    /// Appends MessagePack nil (0xc0).
    @inlinable @inline(__always)
    public mutating func writeNil() throws(ByteWriterOverflow) { try write(0xC0) }

    /// Appends MessagePack false (0xc2) or true (0xc3).
    @inlinable @inline(__always)
    public mutating func writeBool(_ value: Bool) throws(ByteWriterOverflow) { try write(value ? 0xC3 : 0xC2) }

    /// Appends an integer in its smallest MessagePack form: positive fixint, uint8/16/32/64 for
    /// non-negative values; negative fixint, int8/16/32/64 for negative ones.
    @inlinable @inline(__always)
    public mutating func writeInt(_ value: Int64) throws(ByteWriterOverflow) {
        if value >= 0 {
            if value < 0x80 { try write(UInt8(truncatingIfNeeded: value)) }
            else { try writeUIntSlow(UInt64(value)) }
        } else {
            if value >= -32 { try write(UInt8(truncatingIfNeeded: value)) }
            else { try writeNegativeSlow(value) }
        }
    }

    /// `writeInt` for non-negative values of 128 and up.
    @usableFromInline
    mutating func writeUIntSlow(_ value: UInt64) throws(ByteWriterOverflow) {
        if value <= UInt64(UInt8.max) { try write(0xCC, bigEndian: UInt8(value)) }
        else if value <= UInt64(UInt16.max) { try write(0xCD, bigEndian: UInt16(value)) }
        else if value <= UInt64(UInt32.max) { try write(0xCE, bigEndian: UInt32(value)) }
        else { try write(0xCF, bigEndian: value) }
    }

    /// `writeInt` for values below -32.
    @usableFromInline
    mutating func writeNegativeSlow(_ value: Int64) throws(ByteWriterOverflow) {
        if value >= Int64(Int8.min) { try write(0xD0, bigEndian: Int8(value)) }
        else if value >= Int64(Int16.min) { try write(0xD1, bigEndian: Int16(value)) }
        else if value >= Int64(Int32.min) { try write(0xD2, bigEndian: Int32(value)) }
        else { try write(0xD3, bigEndian: value) }
    }

    /// Appends a float64 (0xcb), bit-exact: NaN payloads, infinities and -0.0 survive.
    @inlinable @inline(__always)
    public mutating func writeDouble(_ value: Double) throws(ByteWriterOverflow) {
        try write(0xCB, bigEndian: value.bitPattern)
    }

    /// Appends a byte string: as str (fixstr/str8/16/32) when it is valid UTF-8, otherwise as
    /// bin (bin8/16/32).
    /// - Parameters:
    ///   - bytes: first byte (may be dangling when `count` is 0).
    ///   - count: length in bytes.
    /// - Throws: `ByteWriterOverflow` past the writer's limit, or for strings of 4 GiB and more.
    @inlinable @inline(__always)
    public mutating func writeString(_ bytes: UnsafeRawPointer, count: Int) throws(ByteWriterOverflow) {
        if count < 32 {
            if UTF8Validation.isValid(bytes, count: count) {
                try reserve(1 + count)
                base.storeBytes(of: 0xA0 | UInt8(truncatingIfNeeded: count), toByteOffset: used, as: UInt8.self)
                (base + used + 1).copyMemory(from: bytes, byteCount: count)
                used &+= 1 + count
                return
            }
        }
        try writeLongString(bytes, count: count)
    }

    /// `writeString` for strings of 32 bytes and more, and short non-UTF-8 strings.
    @usableFromInline
    mutating func writeLongString(_ bytes: UnsafeRawPointer, count: Int) throws(ByteWriterOverflow) {
        // Refuse before validating or copying anything that cannot fit.
        guard count < limit - used else { throw ByteWriterOverflow() }
        try writeStringHeader(bytes, count: count)
        try write(bytes, count: count)
    }

    /// Appends the header `writeString` would write for these bytes (str when they are valid
    /// UTF-8, bin otherwise), without the bytes: the caller places them after it.
    public mutating func writeStringHeader(_ bytes: UnsafeRawPointer, count: Int) throws(ByteWriterOverflow) {
        if UTF8Validation.isValid(bytes, count: count) {
            if count < 32 { try write(0xA0 | UInt8(count)) }
            else if count <= Int(UInt8.max) { try write(0xD9, bigEndian: UInt8(count)) }
            else if count <= Int(UInt16.max) { try write(0xDA, bigEndian: UInt16(count)) }
            else if count <= Int(UInt32.max) { try write(0xDB, bigEndian: UInt32(count)) }
            else { throw ByteWriterOverflow() }
        } else {
            if count <= Int(UInt8.max) { try write(0xC4, bigEndian: UInt8(count)) }
            else if count <= Int(UInt16.max) { try write(0xC5, bigEndian: UInt16(count)) }
            else if count <= Int(UInt32.max) { try write(0xC6, bigEndian: UInt32(count)) }
            else { throw ByteWriterOverflow() }
        }
    }

    /// Appends an array header (fixarray/array16/array32) for `count` elements.
    @inlinable @inline(__always)
    public mutating func writeArrayHeader(_ count: Int) throws(ByteWriterOverflow) {
        if count < 16 { try write(0x90 | UInt8(truncatingIfNeeded: count)) }
        else if count <= Int(UInt16.max) { try write(0xDC, bigEndian: UInt16(count)) }
        else if count <= Int(UInt32.max) { try write(0xDD, bigEndian: UInt32(count)) }
        else { throw ByteWriterOverflow() }
    }

    /// Appends a map header (fixmap/map16/map32) for `count` key-value pairs.
    @inlinable @inline(__always)
    public mutating func writeMapHeader(_ count: Int) throws(ByteWriterOverflow) {
        if count < 16 { try write(0x80 | UInt8(truncatingIfNeeded: count)) }
        else if count <= Int(UInt16.max) { try write(0xDE, bigEndian: UInt16(count)) }
        else if count <= Int(UInt32.max) { try write(0xDF, bigEndian: UInt32(count)) }
        else { throw ByteWriterOverflow() }
    }
}

extension ByteWriter {
    /// Appends a one-byte placeholder for a map header whose count is not known yet.
    /// - Returns: the placeholder's offset, for `patchMapHeader`.
    @inlinable @inline(__always)
    public mutating func writeMapHeaderPlaceholder() throws(ByteWriterOverflow) -> Int {
        let offset = used
        try write(0x80)
        return offset
    }

    /// Fills in the placeholder at `offset` with the header of a map of `count` pairs, moving the
    /// pairs written after it when the header needs more than one byte (16 pairs and more).
    @inlinable @inline(__always)
    public mutating func patchMapHeader(at offset: Int, count: Int) throws(ByteWriterOverflow) {
        if count < 16 {
            base.storeBytes(of: 0x80 | UInt8(truncatingIfNeeded: count), toByteOffset: offset, as: UInt8.self)
        } else {
            try widenMapHeader(at: offset, count: count)
        }
    }

    /// `patchMapHeader` for map16/map32: shifts the body right by 2 or 4 bytes.
    @usableFromInline
    mutating func widenMapHeader(at offset: Int, count: Int) throws(ByteWriterOverflow) {
        guard count <= Int(UInt32.max) else { throw ByteWriterOverflow() }
        let extra = count <= Int(UInt16.max) ? 2 : 4
        try reserve(extra)
        let body = base + offset + 1
        (body + extra).copyMemory(from: body, byteCount: used - offset - 1)
        used &+= extra
        if extra == 2 {
            base.storeBytes(of: 0xDE, toByteOffset: offset, as: UInt8.self)
            body.storeBytes(of: UInt16(count).bigEndian, toByteOffset: 0, as: UInt16.self)
        } else {
            base.storeBytes(of: 0xDF, toByteOffset: offset, as: UInt8.self)
            body.storeBytes(of: UInt32(count).bigEndian, toByteOffset: 0, as: UInt32.self)
        }
    }
}
