// Tests of PresharedKey: the key lengths and digits accepted, the messages for everything else,
// and that no message or description ever shows the key.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class TLSPresharedKeyTests: XCTestCase {
    /// The example key of the user's document.
    static let key128 = "0C03EA65238DD2C25EB87CE563868098"
    static let key256 = "00112233445566778899aabbccddeeff0C03EA65238DD2C25EB87CE563868098"

    /// The error thrown for `hex`, or a failure if none was thrown.
    private func refusal(_ hex: String, file: StaticString = #filePath, line: UInt = #line) -> TLSError? {
        do {
            _ = try PresharedKey(hex: hex)
            XCTFail("accepted \(hex.count) characters", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.kind, .badKey, file: file, line: line)
            return error
        }
    }

    func testValidKeys() throws {
        let lower128 = try PresharedKey(hex: Self.key128.lowercased())
        let upper128 = try PresharedKey(hex: Self.key128)
        XCTAssertEqual(lower128.bits, 128)
        let bytes = { (key: PresharedKey) in key.withUnsafeBytes { Array($0) } }
        XCTAssertEqual(bytes(lower128), bytes(upper128))
        XCTAssertEqual(bytes(upper128).prefix(3), [0x0C, 0x03, 0xEA])
        XCTAssertEqual(upper128.cipherSuite, "TLS_AES_128_GCM_SHA256")
        let mixed256 = try PresharedKey(hex: Self.key256)
        XCTAssertEqual(mixed256.bits, 256)
        XCTAssertEqual(bytes(mixed256).count, 32)
        XCTAssertEqual(bytes(mixed256)[10], 0xaa)
        XCTAssertEqual(mixed256.cipherSuite, "TLS_AES_256_GCM_SHA384")
    }

    func testWrongLengths() {
        for count in [0, 1, 16, 31, 33, 48, 63, 65, 128] {
            let hex = String(repeating: "a", count: count)
            guard let error = refusal(hex) else { continue }
            XCTAssertTrue(error.message.contains("\(count) hex digits"), error.message)
            XCTAssertTrue(error.message.contains("32 hex digits (128-bit) or 64 hex digits (256-bit)"),
                          error.message)
        }
    }

    func testNonHexCharacters() {
        var chars = Array(Self.key128)
        chars[6] = "g"
        XCTAssertEqual(refusal(String(chars))?.message,
                       "invalid key: character 7 is not a hex digit (a key is 32 or 64 hex digits, 0-9 and A-F)")
        XCTAssertTrue(refusal(" " + Self.key128)?.message.contains("character 1 ") ?? false)
        XCTAssertTrue(refusal("0x" + Self.key128.dropLast(2))?.message.contains("character 2 ") ?? false)
        XCTAssertTrue(refusal(Self.key128 + "\n")?.message.contains("character 33 ") ?? false)
        XCTAssertTrue(refusal(String(Self.key128.dropLast()) + "é")?.message.contains("character 32 ") ?? false)
    }

    func testMessagesAndDescriptionsNeverShowTheKey() throws {
        let almost = [String(Self.key128.dropLast()), Self.key128 + "0", String(Self.key256.dropLast()) + "z",
                      Self.key128 + " "]
        for hex in almost {
            guard let error = refusal(hex) else { continue }
            for fragment in [hex, String(hex.prefix(8)), String(hex.prefix(8)).lowercased(), "0C03EA65"] {
                XCTAssertFalse(error.message.contains(fragment), error.message)
                XCTAssertFalse("\(error)".contains(fragment))
            }
        }
        let key = try PresharedKey(hex: Self.key256)
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(describing: key), String(reflecting: key), dumped] {
            XCTAssertFalse(text.lowercased().contains("0c03ea65"), text)
            XCTAssertFalse(text.contains("12"), text)  // no byte value either (0x0C = 12)
            XCTAssertTrue(text.contains("256-bit"), text)
        }
    }
}
