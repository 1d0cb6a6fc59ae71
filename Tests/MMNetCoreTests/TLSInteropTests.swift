// Interoperation of TLSSession with the real `openssl` command (OpenSSL 3.0), both directions
// and both key sizes, with exactly the commands PROTOCOL.md documents: mmnet's client against
// `openssl s_server`, and `openssl s_client` against mmnet's server, exchanging one line each
// way over loopback. Skipped, with the reason printed, only when `openssl` is not installed.
//
// Thread: test runner thread.
import Glibc
import XCTest
@testable import MMNetCore

final class TLSInteropTests: XCTestCase {
    private let key128 = TLSPresharedKeyTests.key128
    private let key256 = TLSPresharedKeyTests.key256
    private var openssl = ""
    private var directory = ""

    override func setUpWithError() throws {
        guard let path = executable("openssl") else {
            print("TLSInteropTests skipped: no `openssl` command in PATH")
            throw XCTSkip("no `openssl` command in PATH")
        }
        openssl = path
        var template = Array("/tmp/mmnet-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ChildProcess.failure("mkdtemp") }
        directory = String(cString: made)
    }

    override func tearDown() {
        if !directory.isEmpty {
            for name in ["mmnet-psk.der", "mmnet-psk.pem"] { unlink("\(directory)/\(name)") }
            rmdir(directory)
        }
    }

    /// The PROTOCOL.md recipe for a 256-bit key's PSK session file, run by /bin/sh in the test's
    /// directory; returns the file's path.
    private func pskSessionFile(_ hex: String) throws -> String {
        let script = """
            cd "$2" && KEY="$1" &&
            openssl asn1parse -noout -out mmnet-psk.der -genconf /dev/stdin <<EOF &&
            asn1 = SEQUENCE:session
            [session]
            version = INTEGER:1
            ssl_version = INTEGER:0x0304
            cipher = FORMAT:HEX,OCTETSTRING:1302
            session_id = OCTETSTRING:
            master_key = FORMAT:HEX,OCTETSTRING:$KEY
            timeout = EXPLICIT:2,INTEGER:315360000
            EOF
            openssl sess_id -inform DER -in mmnet-psk.der -out mmnet-psk.pem
            """
        let shell = try ChildProcess(["/bin/sh", "-c", script, "sh", hex, directory])
        var status: Int32 = 0
        waitpid(shell.pid, &status, 0)
        shell.waitForOutput(Deadline(seconds: 1)) { _ in false }
        guard status == 0 else { throw ChildProcess.failure("psk session recipe failed: \(shell.output)") }
        return "\(directory)/mmnet-psk.pem"
    }

    /// The `-psk ... -psk_identity mmnet` arguments (plus `-psk_session FILE` for 256-bit keys).
    private func pskArguments(_ hex: String) throws -> [String] {
        var arguments = ["-tls1_3", "-psk", hex, "-psk_identity", "mmnet"]
        if hex.count == 64 { arguments += ["-psk_session", try pskSessionFile(hex)] }
        return arguments
    }

    /// Drives `session` over the blocking socket `fd`: writes `line` once the handshake is done
    /// and reads until `expected` has arrived; returns what was read.
    private func converse(_ session: TLSSession, fd: Int32, line: String, expected: String,
                          _ deadline: Deadline) throws -> String {
        var received: [UInt8] = []
        var sent = false
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !deadline.expired {
            received += try readAvailable(session)  // also drives the handshake
            if session.isHandshakeComplete && !sent {
                try write(Array(line.utf8), to: session)
                sent = true
            }
            while let bytes = session.takeCiphertext() {
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            if sent && find(Array(expected.utf8), in: received) != nil { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) > 0 {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { break }
                buffer.withUnsafeBytes { session.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// mmnet's client against `openssl s_server -nocert`.
    private func checkClientAgainstServer(_ hex: String, cipher: String) throws {
        let deadline = Deadline(seconds: 10)
        let server = try ChildProcess([openssl, "s_server"] + pskArguments(hex)
            + ["-nocert", "-accept", "127.0.0.1:0", "-naccept", "1"])
        var port: UInt16 = 0
        XCTAssertTrue(server.waitForOutput(deadline) { output in
            guard let range = output.range(of: "ACCEPT 127.0.0.1:") else { return false }
            let digits = output[range.upperBound...].prefix { $0.isNumber }
            guard output[range.upperBound...].dropFirst(digits.count).first == "\n" else { return false }
            port = UInt16(digits) ?? 0
            return true
        }, "s_server did not start: \(server.output)")
        let fd = try connectLoopback(port: port)
        defer { close(fd) }
        let session = try TLSSession(key: PresharedKey(hex: hex), role: .client)
        server.send("hello from openssl\n")
        let received = try converse(session, fd: fd, line: "hello from mmnet\n",
                                    expected: "hello from openssl\n", deadline)
        XCTAssertEqual(received, "hello from openssl\n")
        XCTAssertEqual(session.negotiatedCipher, cipher)
        XCTAssertNotNil(session.negotiatedGroup)
        XCTAssertTrue(server.waitForOutput(deadline) { $0.contains("hello from mmnet\n") }, server.output)
    }

    /// `openssl s_client` against mmnet's server.
    private func checkServerAgainstClient(_ hex: String, cipher: String) throws {
        let deadline = Deadline(seconds: 10)
        let (listener, port) = try listenLoopback()
        defer { close(listener) }
        let client = try ChildProcess([openssl, "s_client"] + pskArguments(hex)
            + ["-connect", "127.0.0.1:\(port)", "-quiet"])
        client.send("hello from openssl\n")
        let fd = try acceptOne(listener, deadline)
        defer { close(fd) }
        let session = try TLSSession(key: PresharedKey(hex: hex), role: .server)
        let received = try converse(session, fd: fd, line: "hello from mmnet\n",
                                    expected: "hello from openssl\n", deadline)
        XCTAssertEqual(received, "hello from openssl\n", client.output)
        XCTAssertEqual(session.negotiatedCipher, cipher)
        XCTAssertTrue(client.waitForOutput(deadline) { $0.contains("hello from mmnet\n") }, client.output)
    }

    func testClientAgainstOpenSSLServer128() throws {
        try checkClientAgainstServer(key128, cipher: "TLS_AES_128_GCM_SHA256")
    }

    func testClientAgainstOpenSSLServer256() throws {
        try checkClientAgainstServer(key256, cipher: "TLS_AES_256_GCM_SHA384")
    }

    func testServerAgainstOpenSSLClient128() throws {
        try checkServerAgainstClient(key128, cipher: "TLS_AES_128_GCM_SHA256")
    }

    func testServerAgainstOpenSSLClient256() throws {
        try checkServerAgainstClient(key256, cipher: "TLS_AES_256_GCM_SHA384")
    }

    func testOpenSSLClientWithWrongKeyIsRefused() throws {
        let deadline = Deadline(seconds: 10)
        let (listener, port) = try listenLoopback()
        defer { close(listener) }
        let client = try ChildProcess([openssl, "s_client", "-tls1_3", "-psk", String(key128.reversed()),
                                       "-psk_identity", "mmnet", "-connect", "127.0.0.1:\(port)", "-quiet"])
        let fd = try acceptOne(listener, deadline)
        defer { close(fd) }
        let session = try TLSSession(key: PresharedKey(hex: key128), role: .server)
        XCTAssertThrowsError(try converse(session, fd: fd, line: "x", expected: "never", deadline)) { error in
            XCTAssertEqual((error as? TLSError)?.kind, .wrongKey, "\(error)")
        }
        while let bytes = session.takeCiphertext() {  // the alert, so s_client says why
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        XCTAssertTrue(client.waitForOutput(deadline) { $0.contains("illegal parameter") }, client.output)
    }
}
