// Tests of MessagePackReader: every MessagePack form it accepts, and every refusal with its message.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class MessagePackReaderTests: XCTestCase {
    private func events(_ hexBytes: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        switch read(bytes(hexBytes)) {
        case .success(let events): return events
        case .failure(let error): XCTFail("refused: \(error)", file: file, line: line); return []
        }
    }

    private func refusal(_ data: [UInt8], limits: CodecLimits = CodecLimits()) -> String {
        switch read(data, limits: limits) {
        case .success(let events): return "accepted: \(events)"
        case .failure(let error): return error.message
        }
    }

    func testScalarsInsideAnArray() {
        XCTAssertEqual(events("9a c0 c2 c3 00 7f ff e0 a0 a3616263 c40100"),
                       ["[10", "nil", "#1", "false", "#2", "true", "#3", "i0", "#4", "i127", "#5",
                        "i-1", "#6", "i-32", "#7", "s", "#8", "s616263", "#9", "s00", "#10", "]"])
    }

    func testEveryIntegerFormIncludingNonMinimalOnes() {
        XCTAssertEqual(events("98 cc00 ccff cd1234 ceffffffff cf7fffffffffffffff d0ff d18000 d380000000000000 00")
                        .filter { $0.hasPrefix("i") },
                       ["i0", "i255", "i4660", "i4294967295", "i9223372036854775807", "i-1", "i-32768",
                        "i-9223372036854775808"])
        XCTAssertEqual(events("91 cf0000000000000001"), ["[1", "i1", "#1", "]"])
        XCTAssertEqual(events("91 d2ffffffff"), ["[1", "i-1", "#1", "]"])
    }

    func testFloats() {
        XCTAssertEqual(events("92 ca3fc00000 cb8000000000000000"), ["[2", "f1.5", "#1", "f-0", "#2", "]"])
        XCTAssertEqual(events("91 cb7ff8000000000000"), ["[1", "fnan", "#1", "]"])
    }

    func testStringAndBinaryForms() {
        XCTAssertEqual(events("92 d903616263 da0001 78"), ["[2", "s616263", "#1", "s78", "#2", "]"])
        XCTAssertEqual(events("92 db0000000178 c4 00"), ["[2", "s78", "#1", "s", "#2", "]"])
        XCTAssertEqual(events("92 c5000178 c60000000178"), ["[2", "s78", "#1", "s78", "#2", "]"])
        // str is not checked for UTF-8: Lua strings are bytes.
        XCTAssertEqual(events("91 a1ff"), ["[1", "sff", "#1", "]"])
    }

    func testContainersAndKeys() {
        XCTAssertEqual(events("80"), ["{0", "}"])
        XCTAssertEqual(events("90"), ["[0", "]"])
        XCTAssertEqual(events("dc0000"), ["[0", "]"])
        XCTAssertEqual(events("df00000000"), ["{0", "}"])
        XCTAssertEqual(events("82 a161 01 c3 91 c2"),
                       ["{2", "s61", "i1", "=", "true", "[1", "false", "#1", "]", "=", "}"])
        // Table keys, float keys, and duplicate keys (the visitor sees both; the last wins in Lua).
        XCTAssertEqual(events("83 9101 c0 cb3ff8000000000000 01 01 02"),
                       ["{3", "[1", "i1", "#1", "]", "nil", "=", "f1.5", "i1", "=", "i1", "i2", "=", "}"])
    }

    func testDepthLimit() {
        let limits = CodecLimits(maxDepth: 3)
        XCTAssertEqual(events("91919101").count, 10)
        XCTAssertEqual(refusal(bytes("9191919101"), limits: limits), "message nested deeper than 3 levels (at byte 3)")
        XCTAssertNil(validate(bytes("919191 01"), limits: limits))
        // Keys count as a level too.
        XCTAssertEqual(refusal(bytes("81 81 81 8101 01 01 01"), limits: limits), "message nested deeper than 3 levels (at byte 3)")
        XCTAssertTrue(refusal(Array(repeating: 0x91, count: 100_000) + [1]).hasPrefix("message nested deeper than 64 levels"))
    }

    func testSizeLimit() {
        XCTAssertEqual(refusal(bytes("93010203"), limits: CodecLimits(maxSize: 3)),
                       "message of 4 bytes is larger than the limit of 3 bytes")
        XCTAssertNil(validate(bytes("93010203"), limits: CodecLimits(maxSize: 4)))
    }

    func testRefusals() {
        let cases: [(String, String)] = [
            ("", "malformed message: empty input"),
            ("01", "malformed message: the message must be a table (MessagePack map or array), found an integer (0x01) at byte 0"),
            ("c0", "malformed message: the message must be a table (MessagePack map or array), found nil (0xc0) at byte 0"),
            ("a161", "malformed message: the message must be a table (MessagePack map or array), found a string (0xa1) at byte 0"),
            ("81", "malformed message: map of 1 entries declared at byte 0 but only 0 bytes remain"),
            ("93 01 02", "malformed message: array of 3 entries declared at byte 0 but only 2 bytes remain"),
            ("92 93 01 02 03", "malformed message: truncated at byte 5 (1 bytes needed, 0 remain)"),
            ("91 a5 616263", "malformed message: truncated at byte 1 (5 bytes needed, 3 remain)"),
            ("91 cd 01", "malformed message: truncated at byte 1 (2 bytes needed, 1 remain)"),
            ("91 cb 3ff0", "malformed message: truncated at byte 1 (8 bytes needed, 2 remain)"),
            ("91 db 7fffffff 616263", "malformed message: truncated at byte 1 (2147483647 bytes needed, 3 remain)"),
            ("dd ffffffff", "malformed message: array of 4294967295 entries declared at byte 0 but only 0 bytes remain"),
            ("df ffffffff 01", "malformed message: map of 4294967295 entries declared at byte 0 but only 1 bytes remain"),
            ("82 a161 01", "malformed message: map of 2 entries declared at byte 0 but only 3 bytes remain"),
            ("81 c0 01", "malformed message: nil map key at byte 1"),
            ("81 cb 7ff8000000000000 01", "malformed message: NaN map key at byte 1"),
            ("81 ca 7fc00000 01", "malformed message: NaN map key at byte 1"),
            ("91 d4 05 00", "malformed message: MessagePack extension types are not supported (0xd4 at byte 1)"),
            ("91 c7 01 05 00", "malformed message: MessagePack extension types are not supported (0xc7 at byte 1)"),
            ("91 c1", "malformed message: invalid byte 0xc1 at byte 1"),
            ("91 cf 8000000000000000", "malformed message: unsigned integer above 9223372036854775807 at byte 1"),
            ("91 01 02", "malformed message: 1 trailing byte after the message (at byte 2)"),
            ("80 80", "malformed message: 1 trailing byte after the message (at byte 1)"),
        ]
        for (input, message) in cases {
            XCTAssertEqual(refusal(bytes(input)), message, input)
            XCTAssertEqual(validate(bytes(input))?.message, message, input)
        }
    }

    func testNaNIsAcceptedAsAValue() {
        XCTAssertNil(validate(bytes("81 a161 cb7ff8000000000000")))
    }
}
