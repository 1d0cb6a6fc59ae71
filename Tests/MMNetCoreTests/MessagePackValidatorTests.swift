// Tests of MessagePackValidator: what it accepts, limits, and every file of the malformed corpus.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class MessagePackValidatorTests: XCTestCase {
    func testWellFormedMessages() {
        let messages = [
            "80", "90", "83 a64f70436f6465 0a a444617461 ab46726f6d20736572766572 a3536571 01",
            "93 01 c0 03", "82 01 01 03 03", "81 c3 c2", "81 91c0 c0",
        ]
        for message in messages { XCTAssertNil(validate(bytes(message)), message) }
    }

    func testDefaultLimits() {
        let limits = CodecLimits()
        XCTAssertEqual(limits.maxDepth, Defaults.maxDepth)
        XCTAssertEqual(limits.maxSize, Defaults.maxMessageSize)
        XCTAssertNil(validate(Array(repeating: 0x91, count: 63) + [0x90]))
        XCTAssertNotNil(validate(Array(repeating: 0x91, count: 64) + [0x90]))
    }

    func testDepthIsCappedAtTheCeiling() {
        let limits = CodecLimits(maxDepth: Int.max)
        XCTAssertEqual(limits.effectiveMaxDepth, CodecLimits.depthCeiling)
        XCTAssertNil(validate(Array(repeating: 0x91, count: CodecLimits.depthCeiling - 1) + [0x90], limits: limits))
        let tooDeep = validate(Array(repeating: 0x91, count: CodecLimits.depthCeiling) + [0x90], limits: limits)
        XCTAssertEqual(tooDeep?.message, "message nested deeper than 1000 levels (at byte 1000)")
    }

    func testLargeStringsUpToTheSizeLimit() {
        let payload = [UInt8](repeating: 0x78, count: 100_000)
        let message = [0x91, 0xDB, 0x00, 0x01, 0x86, 0xA0] + payload
        XCTAssertNil(validate(message))
        XCTAssertNotNil(validate(message, limits: CodecLimits(maxSize: 100_000)))
    }

    func testEveryCorpusFileIsRefused() {
        let names = fileNames(in: corpusDirectory).filter { $0.hasSuffix(".bin") }
        XCTAssertGreaterThanOrEqual(names.count, 40, "corpus at \(corpusDirectory)")
        for name in names {
            let data = contents(of: corpusDirectory + "/" + name)
            let error = validate(data)
            XCTAssertNotNil(error, "\(name) was accepted")
            if let message = error?.message { XCTAssertFalse(message.isEmpty, name) }
        }
    }

    func testTruncatingAWellFormedMessageAnywhereIsRefused() {
        let message = bytes("84 a4 4461 7461 c4 03 00ff01 a3 536571 cd 1234 01 92 cb 3ff8000000000000 ca 3fc00000 c3 81 a1 61 c0")
        XCTAssertNil(validate(message))
        for cut in 0..<message.count { XCTAssertNotNil(validate(Array(message[0..<cut])), "cut at \(cut)") }
    }
}
