// Tests of UTF8Validation: well-formed input in every length class, and each kind of ill-formed input.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class UTF8Tests: XCTestCase {
    private func valid(_ data: [UInt8]) -> Bool {
        data.withUnsafeBytes { UTF8Validation.isValid($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count) }
    }

    func testValid() {
        for length in 0..<40 { XCTAssertTrue(valid(Array(repeating: 0x41, count: length)), "\(length)") }
        XCTAssertTrue(valid(Array("héllo wörld, ünïcödé ✓ 𝄞 日本語".utf8)))
        XCTAssertTrue(valid([0x00]))
        XCTAssertTrue(valid([0xEF, 0xBF, 0xBF]))           // U+FFFF
        XCTAssertTrue(valid([0xF4, 0x8F, 0xBF, 0xBF]))     // U+10FFFF
        // Long dense text of each character length, ending anywhere within a word.
        for text in ["é", "日本語", "𝄞✓"] {
            for tail in 0..<20 { XCTAssertTrue(valid(Array(String(repeating: text, count: 40).utf8) + Array(repeating: 0x61, count: tail))) }
        }
    }

    func testInvalid() {
        let cases: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF],    // lone continuation, overlong 2-byte
            [0xE0, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80],  // overlong 3- and 4-byte
            [0xED, 0xA0, 0x80],                            // surrogate
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],
            [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],      // truncated
            [0xC3, 0x41],                                  // bad continuation
        ]
        for data in cases {
            XCTAssertFalse(valid(data), hex(data))
            // The same bytes after ASCII runs of every alignment, short and long, at the end or
            // followed by more ASCII words.
            for pad in [1, 7, 8, 9, 17, 61, 64, 70, 79, 80] {
                XCTAssertFalse(valid(Array(repeating: 0x61, count: pad) + data), hex(data))
                XCTAssertFalse(valid(Array(repeating: 0x61, count: pad) + data + Array(repeating: 0x61, count: 40)), hex(data))
            }
            XCTAssertFalse(valid(data + Array(repeating: 0x61, count: 9)), hex(data))
            XCTAssertFalse(valid(data + Array(repeating: 0x61, count: 90)), hex(data))
        }
        // A high byte at the very end of a word-aligned ASCII run.
        XCTAssertFalse(valid(Array(repeating: 0x61, count: 15) + [0xFF]))
        XCTAssertFalse(valid(Array(repeating: 0x61, count: 5) + [0xFF]))
    }

    /// Agrees with Swift's own UTF-8 validation on 20,000 generated strings: ASCII runs of every
    /// length (the word-at-a-time skip) around well-formed characters of each length and the
    /// ill-formed sequences above, at every offset.
    func testAgreesWithSwiftsValidation() {
        agreeWithSwift(cases: 20_000, asciiRun: 0...19, pieces: 1...4, illFormedOneIn: 3)
    }

    /// The same for long strings: many pieces at every offset of the eight-byte words, with
    /// long ASCII runs between them, and dense text.
    func testLongStringsAgreeWithSwiftsValidation() {
        agreeWithSwift(cases: 20_000, asciiRun: 0...40, pieces: 3...24, illFormedOneIn: 30)
        agreeWithSwift(cases: 10_000, asciiRun: 0...2, pieces: 20...60, illFormedOneIn: 60)
    }

    /// Compares `UTF8Validation.isValid` with Swift's own validation on `cases` generated
    /// strings of `count` pieces, each an ASCII run of a length in `asciiRun` then a
    /// character (the edges of each length class included) or, one time in `illFormedOneIn`,
    /// an ill-formed sequence; then an ASCII tail.
    private func agreeWithSwift(cases: Int, asciiRun: ClosedRange<Int>, pieces count: ClosedRange<Int>,
                                illFormedOneIn: Int) {
        let wellFormed: [[UInt8]] = [
            Array("é".utf8), Array("✓".utf8), Array("𝄞".utf8), Array("日本".utf8),
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        let illFormed: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],
            [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3, 0x41], [0xE2, 0x41, 0x80],
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<cases {
            var data: [UInt8] = []
            for _ in 0..<Int.random(in: count, using: &generator) {
                data += Array(repeating: 0x61, count: Int.random(in: asciiRun, using: &generator))
                let bad = Int.random(in: 0..<illFormedOneIn, using: &generator) == 0
                data += (bad ? illFormed : wellFormed).randomElement(using: &generator)!
            }
            data += Array(repeating: 0x62, count: Int.random(in: 0...9, using: &generator))
            let expected = String(validating: data, as: UTF8.self) != nil
            XCTAssertEqual(valid(data), expected, hex(data))
        }
    }
}
