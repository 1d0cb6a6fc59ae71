// Tests of TLSSession in memory: two sessions handshake by passing bytes, agree on the cipher
// suite of the key size and on an (EC)DHE group, carry data both ways (up to 1 MiB), and fail
// clearly on a wrong key, a peer without TLS, a changed byte; no plaintext shows in the stream.
//
// Thread: test runner thread.
import COpenSSLShim
import XCTest
@testable import MMNetCore

final class TLSSessionTests: XCTestCase {
    private let key128 = TLSPresharedKeyTests.key128
    private let key256 = TLSPresharedKeyTests.key256

    private func checkRoundTrip(_ hex: String, cipher: String) throws {
        let (client, server) = try sessionPair(hex)
        XCTAssertFalse(client.isHandshakeComplete)
        XCTAssertNil(client.negotiatedCipher)
        try handshake(client, server)
        XCTAssertTrue(client.isHandshakeComplete)
        XCTAssertTrue(server.isHandshakeComplete)
        XCTAssertEqual(client.negotiatedCipher, cipher)
        XCTAssertEqual(server.negotiatedCipher, cipher)
        XCTAssertEqual(client.negotiatedGroup, "x25519")  // psk_dhe_ke: keys from (EC)DHE
        XCTAssertEqual(server.negotiatedGroup, "x25519")

        try write(Array("ping from client".utf8), to: client)
        pump(client, server)
        XCTAssertEqual(try readAvailable(server), Array("ping from client".utf8))
        try write(Array("pong from server".utf8), to: server)
        pump(server, client)
        XCTAssertEqual(try readAvailable(client), Array("pong from server".utf8))

        var generator = SystemRandomNumberGenerator()
        let big = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try write(big, to: client)
        XCTAssertGreaterThan(pump(client, server), big.count)  // records add headers and tags
        XCTAssertEqual(try readAvailable(server), big)
        try write(big, to: server)
        pump(server, client)
        XCTAssertEqual(try readAvailable(client), big)

        client.close()
        pump(client, server)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try server.readPlaintext(into: $0) }, 0)
        XCTAssertThrowsError(try write([1], to: client)) { XCTAssertEqual(($0 as? TLSError)?.kind, .misuse) }
    }

    func testRoundTrip128() throws {
        try checkRoundTrip(key128, cipher: "TLS_AES_128_GCM_SHA256")
    }

    func testRoundTrip256() throws {
        try checkRoundTrip(key256, cipher: "TLS_AES_256_GCM_SHA384")
    }

    func testSharedContext() throws {
        let context = try TLSContext(key: PresharedKey(hex: key128), role: .server)
        for _ in 0..<3 {
            let server = try TLSSession(context: context)
            let client = try TLSSession(key: PresharedKey(hex: key128), role: .client)
            try handshake(client, server)
            XCTAssertEqual(server.negotiatedCipher, "TLS_AES_128_GCM_SHA256")
        }
    }

    func testAContextAcceptsHandshakesHoweverOldItsKeysSessionIs() throws {
        // A server context's PSK session aged as a server running for a year would have it
        // (OpenSSL's default lifetime is 304 s: past it every handshake failed, "no suitable
        // signature algorithm").
        for age in [400, 365 * 24 * 3600] {
            let context = try TLSContext(key: PresharedKey(hex: key128), role: .server)
            XCTAssertNotEqual(SSL_SESSION_set_time(context.psk, time(nil) - age), 0)
            let server = try TLSSession(context: context)
            let client = try TLSSession(key: PresharedKey(hex: key128), role: .client)
            try handshake(client, server)
            XCTAssertEqual(server.negotiatedCipher, "TLS_AES_128_GCM_SHA256", "key session \(age) s old")
        }
    }

    func testNeedsMoreCiphertextBeforeData() throws {
        let (client, server) = try sessionPair(key128)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertNil(try buffer.withUnsafeMutableBytes { try server.readPlaintext(into: $0) })
        XCTAssertThrowsError(try write([1], to: client)) { XCTAssertEqual(($0 as? TLSError)?.kind, .misuse) }
        try handshake(client, server)
        XCTAssertNil(try buffer.withUnsafeMutableBytes { try server.readPlaintext(into: $0) })
        XCTAssertNil(client.takeCiphertext())
    }

    /// Reads what `session` gives into a buffer of `size` bytes: the text, or nil.
    private func readText(_ session: TLSSession, size: Int = 64) throws -> String? {
        var buffer = [UInt8](repeating: 0, count: size)
        guard let count = try buffer.withUnsafeMutableBytes({ try session.readPlaintext(into: $0) }) else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    func testUnreadInputSaysWhetherAReadCanFindAnything() throws {
        // The I/O thread skips the read after a record when this is false: true for a record
        // fed but not read, a record's remaining part, and plaintext left by a small buffer.
        let (client, server) = try sessionPair(key128)
        try handshake(client, server)
        XCTAssertFalse(server.hasUnreadInput)
        try write(Array("first".utf8), to: client)
        try write(Array("second".utf8), to: client)
        let records = try XCTUnwrap(client.takeCiphertext())
        let firstLength = 5 + (Int(records[3]) << 8 | Int(records[4]))
        XCTAssertGreaterThan(records.count, firstLength + 3)
        records.prefix(firstLength + 3).withUnsafeBytes { server.feed($0) }  // a record and a bit
        XCTAssertTrue(server.hasUnreadInput)
        XCTAssertEqual(try readText(server), "first")
        XCTAssertTrue(server.hasUnreadInput)  // the second record's first bytes
        XCTAssertNil(try readText(server))
        XCTAssertTrue(server.hasUnreadInput)
        records.dropFirst(firstLength + 3).withUnsafeBytes { server.feed($0) }
        XCTAssertEqual(try readText(server), "second")
        XCTAssertFalse(server.hasUnreadInput)
        XCTAssertNil(try readText(server))

        try write(Array(repeating: 0x61, count: 100), to: client)
        pump(client, server)
        XCTAssertEqual(try readText(server, size: 64), String(repeating: "a", count: 64))
        XCTAssertTrue(server.hasUnreadInput)  // the record's last 36 bytes of plaintext
        XCTAssertEqual(try readText(server, size: 64), String(repeating: "a", count: 36))
        XCTAssertFalse(server.hasUnreadInput)
    }

    /// Runs the handshake expecting failure; returns both sides' errors.
    private func failingHandshake(_ client: TLSSession, _ server: TLSSession) -> (TLSError?, TLSError?) {
        var clientError: TLSError?
        var serverError: TLSError?
        for _ in 0..<10 where clientError == nil || serverError == nil {
            if clientError == nil {
                do { _ = try client.advanceHandshake() } catch { clientError = error }
            }
            pump(client, server)
            if serverError == nil {
                do { _ = try server.advanceHandshake() } catch { serverError = error }
            }
            pump(server, client)
        }
        XCTAssertFalse(client.isHandshakeComplete && server.isHandshakeComplete)
        return (clientError, serverError)
    }

    func testWrongKeyFailsOnBothSides() throws {
        var other = Array(key128)
        other[31] = other[31] == "0" ? "1" : "0"
        let (client, server) = try sessionPair(key128, serverHex: String(other))
        let (clientError, serverError) = failingHandshake(client, server)
        XCTAssertEqual(serverError?.kind, .wrongKey)
        XCTAssertEqual(serverError?.message,
                       "TLS handshake failed: the two sides use different keys (binder does not verify)")
        XCTAssertEqual(clientError?.kind, .wrongKey)
        XCTAssertEqual(clientError?.message, "TLS handshake failed: the peer refused our key: the two "
                       + "sides use different keys (sslv3 alert illegal parameter)")
        for error in [clientError, serverError] {
            XCTAssertFalse(error?.message.contains("0C03EA65") ?? true)
        }
        // Sticky: the same error again, and no data path.
        XCTAssertThrowsError(try server.advanceHandshake()) { XCTAssertEqual(($0 as? TLSError)?.kind, .wrongKey) }
    }

    func testKeysOfDifferentSizesFail() throws {
        let (client, server) = try sessionPair(key256, serverHex: key128)
        let (clientError, serverError) = failingHandshake(client, server)
        XCTAssertEqual(serverError?.kind, .wrongKey)
        XCTAssertEqual(serverError?.message, "TLS handshake failed: the two sides use keys of different "
                       + "sizes (128 and 256 bits), or the peer is not mmnet (it offers none of mmnet's "
                       + "cipher suites) (no shared cipher)")
        XCTAssertEqual(clientError?.kind, .wrongKey)
        XCTAssertEqual(clientError?.message, "TLS handshake failed: the peer refused the handshake: the "
                       + "keys may be of different sizes, or the peer is not mmnet (sslv3 alert handshake failure)")
    }

    func testPlainHelloIsNotEncrypted() throws {
        let server = try TLSSession(key: PresharedKey(hex: key128), role: .server)
        let hello: [UInt8] = [0x4D, 0x4D, 0x4E, 0x54, 0x01, 0x00, 0x00, 0x00]
        hello.withUnsafeBytes { server.feed($0) }
        XCTAssertThrowsError(try server.advanceHandshake()) { error in
            let error = error as? TLSError
            XCTAssertEqual(error?.kind, .notEncrypted)
            XCTAssertEqual(error?.message, "TLS handshake failed: peer is not encrypted: it sent a plain "
                           + "mmnet hello (give both sides the same key, or neither) (wrong version number)")
        }
        // The client side: the server answered the ClientHello with a plain hello.
        let client = try TLSSession(key: PresharedKey(hex: key128), role: .client)
        XCTAssertFalse(try client.advanceHandshake())
        XCTAssertNotNil(client.takeCiphertext())
        hello.withUnsafeBytes { client.feed($0) }
        XCTAssertThrowsError(try client.advanceHandshake()) { XCTAssertEqual(($0 as? TLSError)?.kind, .notEncrypted) }
        // Anything else that is not TLS.
        let other = try TLSSession(key: PresharedKey(hex: key128), role: .server)
        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { other.feed($0) }
        XCTAssertThrowsError(try other.advanceHandshake()) { error in
            XCTAssertEqual((error as? TLSError)?.kind, .notEncrypted)
            XCTAssertTrue("\(error)".contains("peer is not speaking TLS"), "\(error)")
        }
    }

    func testFlippedByteIsDetected() throws {
        for position in [5, 20, -1] {  // first byte after the header, inside, the tag's last byte
            let (client, server) = try sessionPair(key256)
            try handshake(client, server)
            try write(Array(repeating: 0x41, count: 100), to: client)
            pump(client, server) { bytes in
                let index = position < 0 ? bytes.count + position : position
                bytes[index] ^= 0x01
            }
            XCTAssertThrowsError(try readAvailable(server), "position \(position)") { error in
                XCTAssertEqual((error as? TLSError)?.kind, .tampered)
                XCTAssertEqual("\(error)", "TLS read failed: a record failed its integrity check: the data "
                               + "was changed on the way (decryption failed or bad record mac)")
            }
            // The alert reaches the writer, which learns why.
            pump(server, client)
            XCTAssertThrowsError(try readAvailable(client)) { error in
                XCTAssertEqual((error as? TLSError)?.kind, .peerAlert)
                XCTAssertTrue("\(error)".contains("bad record mac"), "\(error)")
            }
        }
    }

    func testNoOpenSSLErrorStateLeaks() throws {
        // An error some other code left on this thread's queue is not blamed on a session...
        XCTAssertNil(BIO_new_file("/nonexistent/mmnet", "r"))
        XCTAssertNotEqual(ERR_peek_error(), 0)
        let (client, server) = try sessionPair(key128)
        try handshake(client, server)
        try write(Array(repeating: 0x41, count: 10), to: client)
        pump(client, server) { $0[$0.count - 1] ^= 0x80 }
        XCTAssertNil(BIO_new_file("/nonexistent/mmnet", "r"))
        XCTAssertThrowsError(try readAvailable(server)) { error in
            XCTAssertEqual("\(error)", "TLS read failed: a record failed its integrity check: the data was "
                           + "changed on the way (decryption failed or bad record mac)")
        }
        // ...and a failed session leaves nothing behind for the next one.
        XCTAssertEqual(ERR_peek_error(), 0)
        let (other, otherServer) = try sessionPair(key128, serverHex: key256.prefix(32).description)
        _ = failingHandshake(other, otherServer)
        XCTAssertEqual(ERR_peek_error(), 0)
    }

    func testNoPlaintextInTheStream() throws {
        let marker = Array("MARKER-7f3a9c-plaintext-must-not-leak".utf8)
        for hex in [key128, key256] {
            let client = try TLSSession(key: PresharedKey(hex: hex), role: .client)
            let server = try TLSSession(key: PresharedKey(hex: hex), role: .server)
            var stream: [UInt8] = []
            for _ in 0..<10 where !(client.isHandshakeComplete && server.isHandshakeComplete) {
                _ = try client.advanceHandshake()
                if let bytes = client.takeCiphertext() { stream += bytes; bytes.withUnsafeBytes { server.feed($0) } }
                _ = try server.advanceHandshake()
                if let bytes = server.takeCiphertext() { stream += bytes; bytes.withUnsafeBytes { client.feed($0) } }
            }
            for _ in 0..<5 { try write(marker, to: client); try write(marker, to: server) }
            let fromClient = client.takeCiphertext() ?? []
            let fromServer = server.takeCiphertext() ?? []
            stream += fromClient + fromServer
            XCTAssertNil(find(marker, in: stream))
            XCTAssertNil(find(Array(marker.prefix(8)), in: stream))
            XCTAssertNil(find(try PresharedKey(hex: hex).withUnsafeBytes { Array($0) }, in: stream))  // nor the key
            fromClient.withUnsafeBytes { server.feed($0) }
            XCTAssertEqual(try readAvailable(server), Array([[UInt8]](repeating: marker, count: 5).joined()))
        }
    }

    func testCiphertextIsEncryptedIntoAPoolBufferAndHandedOnWithoutACopy() throws {
        let (client, server) = try sessionPair(key128)
        try handshake(client, server)
        let pool = BufferPool()
        var generator = SystemRandomNumberGenerator()
        let plaintext = (0..<(256 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var received: [UInt8] = []
        var buffers: [UnsafeRawPointer] = []
        for round in 0..<3 {
            client.reserveCiphertext(for: plaintext.count, pool: pool)
            try write(plaintext, to: client)
            guard let block = client.takeCiphertext(pool: pool) else { return XCTFail("no ciphertext") }
            XCTAssertNil(client.takeCiphertext(pool: pool), "taken whole, once")
            // 16 records of 16 KiB, 22 bytes each added: all in the reserved buffer.
            XCTAssertEqual(block.count, plaintext.count + 16 * 22)
            block.withUnsafeBytes { bytes in
                buffers.append(bytes.baseAddress!)
                server.feed(bytes)
            }
            received += try readAvailable(server)
            XCTAssertEqual(pool.keptByteCount, 0, "round \(round): the buffer is out with the block")
            _ = consume block
            XCTAssertGreaterThan(pool.keptByteCount, plaintext.count, "round \(round): back in the pool")
        }
        XCTAssertEqual(received, Array([[UInt8]](repeating: plaintext, count: 3).joined()))
        XCTAssertEqual(Set(buffers).count, 1, "every round encrypted into the same pooled buffer")
        // Without a reservation the engine grows a buffer of its own, handed on the same way.
        try write(Array("small".utf8), to: client)
        let small = try XCTUnwrap(client.takeCiphertext(pool: pool))
        small.withUnsafeBytes { server.feed($0) }
        XCTAssertEqual(try readAvailable(server), Array("small".utf8))
    }
}
