// UTF8: strict UTF-8 validation, deciding whether a Lua string is sent as MessagePack str or bin.
//
// Thread: any (pure function).

/// UTF-8 validation as the encoder needs it.
public enum UTF8Validation {
    /// Whether `count` bytes at `start` are well-formed UTF-8 (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF). ASCII runs are checked eight bytes at a time, also
    /// between the multibyte characters of mostly-ASCII text.
    /// - Parameters:
    ///   - start: first byte.
    ///   - count: number of bytes.
    /// - Returns: true when the bytes are valid UTF-8 (the empty string is).
    @inlinable @inline(__always)
    public static func isValid(_ start: UnsafeRawPointer, count: Int) -> Bool {
        isASCII(start, count: count) || validateMultibyte(start, count: count)
    }

    /// Whether `count` bytes at `start` are all ASCII, read a word at a time (the last word may
    /// overlap the one before; strings under eight bytes are read as two overlapping halves).
    @inlinable @inline(__always)
    public static func isASCII(_ start: UnsafeRawPointer, count: Int) -> Bool {
        if count >= 8 {
            var bits: UInt64 = 0
            var i = 0
            while i &+ 8 <= count {
                bits |= start.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i &+= 8
            }
            bits |= start.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
            return bits & 0x8080_8080_8080_8080 == 0
        }
        if count >= 4 {
            let bits = start.loadUnaligned(as: UInt32.self)
                | start.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
            return bits & 0x8080_8080 == 0
        }
        var bits: UInt8 = 0
        var i = 0
        while i < count { bits |= start.load(fromByteOffset: i, as: UInt8.self); i &+= 1 }
        return bits & 0x80 == 0
    }

    /// The slow path of `isValid`: the bytes character by character, except that eight ASCII
    /// bytes in a row are skipped at once.
    @usableFromInline
    static func validateMultibyte(_ start: UnsafeRawPointer, count: Int) -> Bool {
        var i = 0
        @inline(__always) func byte(_ j: Int) -> UInt8 { start.load(fromByteOffset: j, as: UInt8.self) }
        @inline(__always) func cont(_ j: Int) -> Bool { j < count && byte(j) & 0xC0 == 0x80 }
        while i < count {
            let b0 = byte(i)
            if b0 < 0x80 {
                if i &+ 8 <= count && start.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i &+= 8
                } else {
                    i &+= 1
                }
                continue
            }
            if b0 < 0xC2 { return false }                       // continuation byte or overlong
            if b0 < 0xE0 {                                      // 2 bytes
                guard cont(i + 1) else { return false }
                i += 2
            } else if b0 < 0xF0 {                               // 3 bytes
                guard i + 2 < count else { return false }
                let b1 = byte(i + 1)
                if b0 == 0xE0 && b1 < 0xA0 { return false }     // overlong
                if b0 == 0xED && b1 >= 0xA0 { return false }    // surrogates
                guard b1 & 0xC0 == 0x80, cont(i + 2) else { return false }
                i += 3
            } else if b0 < 0xF5 {                               // 4 bytes
                guard i + 3 < count else { return false }
                let b1 = byte(i + 1)
                if b0 == 0xF0 && b1 < 0x90 { return false }     // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return false }    // above U+10FFFF
                guard b1 & 0xC0 == 0x80, cont(i + 2), cont(i + 3) else { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }
}
