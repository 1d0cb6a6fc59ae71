// Helpers for the TLS tests: pumping ciphertext between two in-memory sessions, a monotonic
// deadline, and reading plaintext until a marker arrives.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

/// A deadline `seconds` from now, on the monotonic clock.
struct Deadline {
    let end: Double
    init(seconds: Double) { end = Clock.monotonic() + seconds }
    var expired: Bool { Clock.monotonic() > end }
}

/// Two sessions of one key, client and server.
func sessionPair(_ hex: String, serverHex: String? = nil) throws -> (TLSSession, TLSSession) {
    let client = try TLSSession(key: PresharedKey(hex: hex), role: .client)
    let server = try TLSSession(key: PresharedKey(hex: serverHex ?? hex), role: .server)
    return (client, server)
}

/// Moves all waiting ciphertext from `from` to `to`, passing it through `alter` on the way.
/// Returns the number of bytes moved.
@discardableResult
func pump(_ from: TLSSession, _ to: TLSSession, alter: (inout [UInt8]) -> Void = { _ in }) -> Int {
    guard var bytes = from.takeCiphertext() else { return 0 }
    alter(&bytes)
    bytes.withUnsafeBytes { to.feed($0) }
    return bytes.count
}

/// Runs the handshake between two sessions in memory (at most 10 rounds).
func handshake(_ client: TLSSession, _ server: TLSSession) throws {
    for _ in 0..<10 {
        let clientDone = try client.advanceHandshake()
        pump(client, server)
        let serverDone = try server.advanceHandshake()
        pump(server, client)
        if clientDone && serverDone { return }
    }
    XCTFail("handshake did not complete in 10 rounds")
}

/// Reads all plaintext `session` can give now (nil from readPlaintext ends it).
func readAvailable(_ session: TLSSession) throws -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = try buffer.withUnsafeMutableBytes { try session.readPlaintext(into: $0) }
        guard let count, count > 0 else { return result }
        result += buffer[0..<count]
    }
}

/// Writes `bytes` as plaintext into `session`.
func write(_ bytes: [UInt8], to session: TLSSession) throws {
    try bytes.withUnsafeBytes { try session.writePlaintext($0) }
}

/// The index of `needle` in `haystack`, or nil.
func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    outer: for start in 0...(haystack.count - needle.count) {
        for offset in needle.indices where haystack[start + offset] != needle[offset] { continue outer }
        return start
    }
    return nil
}
