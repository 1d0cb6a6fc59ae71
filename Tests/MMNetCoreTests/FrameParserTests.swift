// Tests of FrameParser (the I/O thread's frame splitting as a pure function) and replay of the
// fuzzers' regression files (Tests/corpus/fuzz/<target>/*.bin) through the parser and validator.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class FrameParserTests: XCTestCase {
    private func parse(_ hex: String, max: Int = 1024) -> FrameParse {
        bytes(hex).withUnsafeBytes { FrameParser.next($0, maxMessageSize: max) }
    }

    func testWholeAndPartialFrames() {
        XCTAssertEqual(parse(""), .needMore)
        XCTAssertEqual(parse("00000002"), .needMore)
        XCTAssertEqual(parse("00000002 00 81"), .needMore)
        XCTAssertEqual(parse("00000002 00 8090"), .frame(type: .message, bodyLength: 2))
        XCTAssertEqual(parse("00000001 00 90 ffff"), .frame(type: .message, bodyLength: 1))
        XCTAssertEqual(parse("00000008 01 0102030405060708"), .frame(type: .ping, bodyLength: 8))
        XCTAssertEqual(parse("00000008 02 01020304050607"), .needMore)
    }

    func testA4GiBLengthIsRefusedFromTheHeaderAlone() {
        XCTAssertEqual(parse("ffffffff 00"), .oversized(length: 0xFFFF_FFFF, limit: 1024))
        XCTAssertEqual(parse("00000401 00"), .oversized(length: 1025, limit: 1024))
        XCTAssertEqual(parse("00000400 00"), .needMore)
    }

    func testBadHeadersAreRefusedWithAReason() {
        XCTAssertEqual(parse("00000003 07"), .refused(reason: "unknown frame type 7"))
        XCTAssertEqual(parse("00000003 01 616263"), .refused(reason: "control frame of 3 bytes (expected 8)"))
        XCTAssertEqual(parse("ffffffff 02"), .refused(reason: "control frame of 4294967295 bytes (expected 8)"))
    }

    /// Every crash the fuzzers found, kept as a file: parsing and validating it must not crash.
    func testFuzzRegressionFilesDoNotCrash() {
        let root = String(corpusDirectory.dropLast("msgpack".count)) + "fuzz"
        for target in ["msgpack", "frames"] {
            for name in fileNames(in: root + "/" + target) where name.hasSuffix(".bin") {
                let data = contents(of: root + "/" + target + "/" + name)
                data.withUnsafeBytes { raw in
                    _ = MessagePackValidator.validate(raw, limits: CodecLimits())
                    var offset = min(raw.count, Hello.size)
                    while case .frame(_, let length) = FrameParser.next(UnsafeRawBufferPointer(rebasing: raw[offset...]), maxMessageSize: 2048) {
                        let body = UnsafeRawBufferPointer(rebasing: raw[(offset + FrameHeader.size)..<(offset + FrameHeader.size + length)])
                        _ = MessagePackValidator.validate(body, limits: CodecLimits(maxSize: 2048))
                        offset += FrameHeader.size + length
                    }
                }
            }
        }
    }
}
