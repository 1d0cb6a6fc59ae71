// PresharedKey: a script's cypherkey, parsed from hex and checked; the key bytes themselves.
// Its descriptions never show the key (a key must never reach a log, an error or a dump).
//
// Thread: any (value type; the bytes are written only while it is made).

import COpenSSLShim

/// A TLS 1.3 external pre-shared key: 16 bytes (128-bit, from 32 hex digits) or 32 bytes
/// (256-bit, from 64 hex digits).
///
/// `description`, `debugDescription` and reflection (`dump`, `print`) show only the size. The
/// bytes live in memory of their own, wiped when the last copy of the key goes (`KeyBytes`);
/// the Lua binding parses the key from the Lua string's own bytes, so that no other copy of
/// the hex or of the key is left in freed memory.
public struct PresharedKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let storage: KeyBytes

    /// Parses a key given as hex (tests, tools: the String's own storage is not wiped).
    ///
    /// - Parameter hex: exactly 32 or 64 hex digits, upper or lower case, nothing else (no
    ///   spaces, no "0x").
    /// - Throws: `TLSError` with kind `.badKey` and a message saying what is wrong: the length
    ///   found, or the position (1-based) of the first character that is not a hex digit. The
    ///   message never contains the key or any part of it.
    public init(hex: String) throws(TLSError) {
        let digits = Array(hex.utf8)
        let parsed = digits.withUnsafeBytes { bytes in
            Result { () throws(TLSError) in try PresharedKey(hexDigits: bytes) }
        }
        self = try parsed.get()
    }

    /// Parses a key from the bytes of its hex digits, read in place (as `init(hex:)`).
    public init(hexDigits digits: UnsafeRawBufferPointer) throws(TLSError) {
        for (index, byte) in digits.enumerated() where PresharedKey.nibble(byte) == nil {
            throw TLSError(.badKey, "invalid key: character \(index + 1) is not a hex digit "
                + "(a key is 32 or 64 hex digits, 0-9 and A-F)")
        }
        guard digits.count == 32 || digits.count == 64 else {
            throw TLSError(.badKey, "invalid key: \(digits.count) hex digits; a key is 32 hex "
                + "digits (128-bit) or 64 hex digits (256-bit)")
        }
        storage = KeyBytes(count: digits.count / 2)
        for index in 0..<storage.bytes.count {
            storage.bytes[index] = PresharedKey.nibble(digits[2 * index])! << 4
                | PresharedKey.nibble(digits[2 * index + 1])!
        }
    }

    /// The key size in bits: 128 or 256.
    public var bits: Int { storage.bytes.count * 8 }

    /// Calls `body` with the key bytes (16 or 32), which it must not keep. Internal: only the
    /// TLS context reads them.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(storage.bytes))
    }

    /// True when `other` has the same bytes, compared in constant time (`CRYPTO_memcmp`): the
    /// time taken tells nothing about where two keys differ.
    func isEqual(to other: PresharedKey) -> Bool {
        storage.bytes.count == other.storage.bytes.count
            && CRYPTO_memcmp(storage.bytes.baseAddress, other.storage.bytes.baseAddress, storage.bytes.count) == 0
    }

    /// "128-bit key" or "256-bit key": never the key itself.
    public var description: String { "\(bits)-bit key" }

    /// Same as `description`: never the key itself.
    public var debugDescription: String { description }

    /// A mirror with no children, so `dump` shows no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// The TLS 1.3 cipher suite this key size selects (OpenSSL's name).
    public var cipherSuite: String {
        bits == 128 ? "TLS_AES_128_GCM_SHA256" : "TLS_AES_256_GCM_SHA384"
    }

    /// The value of an ASCII hex digit, or nil.
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

/// The bytes of a key, in memory of their own, overwritten with zeros (`OPENSSL_cleanse`,
/// which the compiler cannot leave out) before it is freed.
private final class KeyBytes: @unchecked Sendable {
    /// The bytes; written only while the key is parsed.
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 8)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        OPENSSL_cleanse(bytes.baseAddress, bytes.count)
        bytes.deallocate()
    }
}
