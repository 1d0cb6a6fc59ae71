// TLSBench: in-memory speed of the TLS engine (no sockets): handshakes per second, and
// encrypt+decrypt throughput for 40-byte and 1 MiB writes, for both key sizes. Prints figures;
// asserts nothing about speed (not a timed test). `make bench-tls` runs it in release mode.
//
// Usage: TLSBench [scale]   (scale divides every count; e.g. 1000 for a quick run under valgrind)
//
// Thread: main thread only.
import MMNetCore

/// Divides every iteration count (first argument; default 1).
let scale = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 1) : 1

/// Seconds `body` takes, best of `rounds` runs.
func best(rounds: Int, _ body: () throws -> Void) rethrows -> Double {
    var fastest = Double.infinity
    for _ in 0..<rounds {
        let start = Clock.monotonic()
        try body()
        fastest = min(fastest, Clock.monotonic() - start)
    }
    return fastest
}

/// Completes the handshake between two sessions in memory.
func handshake(_ client: TLSSession, _ server: TLSSession) throws {
    while !(client.isHandshakeComplete && server.isHandshakeComplete) {
        _ = try client.advanceHandshake()
        if let bytes = client.takeCiphertext() { bytes.withUnsafeBytes { server.feed($0) } }
        _ = try server.advanceHandshake()
        if let bytes = server.takeCiphertext() { bytes.withUnsafeBytes { client.feed($0) } }
    }
}

/// Encrypts `count` writes of `size` bytes on the client and decrypts them on the server.
func transfer(_ client: TLSSession, _ server: TLSSession, size: Int, count: Int,
              scratch: UnsafeMutableRawBufferPointer) throws {
    let payload = [UInt8](repeating: 0x5A, count: size)
    var received = 0
    for _ in 0..<count {
        try payload.withUnsafeBytes { try client.writePlaintext($0) }
        if let bytes = client.takeCiphertext() { bytes.withUnsafeBytes { server.feed($0) } }
        while let n = try server.readPlaintext(into: scratch), n > 0 { received += n }
    }
    precondition(received == size * count, "lost bytes")
}

let keys = [("128-bit", "0C03EA65238DD2C25EB87CE563868098"),
            ("256-bit", "00112233445566778899aabbccddeeff0C03EA65238DD2C25EB87CE563868098")]
let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
defer { scratch.deallocate() }
for (name, hex) in keys {
    let key = try PresharedKey(hex: hex)
    let handshakes = max(2, 200 / scale)
    let shared = try TLSContext(key: key, role: .server)
    let clientContext = try TLSContext(key: key, role: .client)
    let seconds = try best(rounds: 3) {
        for _ in 0..<handshakes {
            try handshake(TLSSession(context: clientContext), TLSSession(context: shared))
        }
    }
    let fresh = try best(rounds: 3) {
        for _ in 0..<handshakes {
            try handshake(TLSSession(key: key, role: .client), TLSSession(key: key, role: .server))
        }
    }
    let client = try TLSSession(key: key, role: .client)
    let server = try TLSSession(key: key, role: .server)
    try handshake(client, server)
    print("\(name) key, \(client.negotiatedCipher ?? "?"), group \(client.negotiatedGroup ?? "?")")
    print("  handshake (both sides, shared contexts): \(Int(seconds / Double(handshakes) * 1e6)) us"
        + "; with a new SSL_CTX per session: \(Int(fresh / Double(handshakes) * 1e6)) us")
    for (size, count) in [(40, 200_000), (1 << 20, 64)] {
        let time = try best(rounds: 3) {
            try transfer(client, server, size: size, count: max(2, count / scale), scratch: scratch)
        }
        let count = max(2, count / scale)
        let megabytes = Double(size * count) / 1_048_576
        print("  \(size)-byte writes: \(Int(Double(count) / time)) writes/s, "
            + "\(Int(megabytes / time)) MiB/s (encrypt + decrypt, one core)")
    }
}
