// The hello both sides send first on every connection (PROTOCOL.md, "Hello").
//
// Thread: any (pure functions on bytes).

/// The 8-byte greeting: magic "MMNT", protocol version, flags, two reserved zero bytes.
public enum Hello {
    /// Bytes on the wire.
    public static let size = 8
    /// The protocol version this build speaks.
    public static let version: UInt8 = 1
    /// Flag bit: the sender runs the connection inside TLS.
    public static let flagEncrypted: UInt8 = 0x01
    /// The magic, "MMNT".
    public static let magic: [UInt8] = [0x4D, 0x4D, 0x4E, 0x54]

    /// Our hello.
    public static func bytes(encrypted: Bool) -> [UInt8] {
        magic + [version, encrypted ? flagEncrypted : 0, 0, 0]
    }

    /// Checks a peer's hello against ours; returns why it is refused, or nil.
    /// `hello` must hold at least `size` bytes.
    public static func problem(with hello: UnsafeRawBufferPointer, encrypted: Bool) -> String? {
        if !hello.starts(with: magic) {
            if hello.starts(with: [0x16, 0x03]) {
                return "peer started TLS but this side has no key (encryption on one side only)"
            }
            if hello.starts(with: Array("GET ".utf8)) || hello.starts(with: Array("POST".utf8))
                || hello.starts(with: Array("HTTP".utf8)) {
                return "peer speaks HTTP, not mmnet"
            }
            return "peer is not mmnet (bad hello magic)"
        }
        if hello[4] != version {
            return "protocol version mismatch: peer speaks \(hello[4]), this side \(version)"
        }
        let peerEncrypted = hello[5] & flagEncrypted != 0
        if peerEncrypted != encrypted {
            // Encrypted, the hello came over TLS, made with this side's key: a peer whose
            // hello then says it has none is broken, not keyless (a keyless peer's clear hello
            // fails the TLS handshake: `TLSError.notEncrypted`).
            return peerEncrypted ? "peer uses encryption and this side has no key"
                                 : "peer's hello says it has no key, though it came over TLS with this side's key"
        }
        if hello[5] & ~flagEncrypted != 0 || hello[6] != 0 || hello[7] != 0 {
            return "peer hello has unknown flags"
        }
        return nil
    }
}
