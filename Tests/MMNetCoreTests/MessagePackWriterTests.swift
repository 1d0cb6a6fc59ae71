// Tests of MessagePackWriter: each value's exact bytes, smallest forms at every boundary.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class MessagePackWriterTests: XCTestCase {
    func testIntegersUseTheSmallestForm() {
        let vectors: [(Int64, String)] = [
            (0, "00"), (1, "01"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"),
            (65535, "cdffff"), (65536, "ce00010000"), (4_294_967_295, "ceffffffff"),
            (4_294_967_296, "cf0000000100000000"), (Int64.max, "cf7fffffffffffffff"),
            ((1 << 53) + 1, "cf0020000000000001"),
            (-1, "ff"), (-32, "e0"), (-33, "d0df"), (-128, "d080"), (-129, "d1ff7f"),
            (-32768, "d18000"), (-32769, "d2ffff7fff"), (-2_147_483_648, "d280000000"),
            (-2_147_483_649, "d3ffffffff7fffffff"), (Int64.min, "d38000000000000000"),
        ]
        for (value, expected) in vectors {
            XCTAssertEqual(hex(written { try $0.writeInt(value) }), expected, "\(value)")
        }
    }

    func testFloatsAreAlwaysFloat64BitExact() {
        XCTAssertEqual(hex(written { try $0.writeDouble(1.0) }), "cb3ff0000000000000")
        XCTAssertEqual(hex(written { try $0.writeDouble(-0.0) }), "cb8000000000000000")
        XCTAssertEqual(hex(written { try $0.writeDouble(.infinity) }), "cb7ff0000000000000")
        XCTAssertEqual(hex(written { try $0.writeDouble(-.infinity) }), "cbfff0000000000000")
        XCTAssertEqual(hex(written { try $0.writeDouble(1.5) }), "cb3ff8000000000000")
    }

    func testNilAndBooleans() {
        XCTAssertEqual(hex(written { try $0.writeNil() }), "c0")
        XCTAssertEqual(hex(written { try $0.writeBool(false) }), "c2")
        XCTAssertEqual(hex(written { try $0.writeBool(true) }), "c3")
    }

    func testStringsAreStrWhenUTF8AndBinOtherwise() {
        func encoded(_ s: [UInt8]) -> String {
            hex(written { try writeString(s, into: &$0) })
        }
        XCTAssertEqual(encoded([]), "a0")
        XCTAssertEqual(encoded(Array("abc".utf8)), "a3616263")
        XCTAssertEqual(encoded(Array("é".utf8)), "a2c3a9")
        XCTAssertEqual(encoded([0x61, 0x00, 0x62]), "a3610062")
        XCTAssertEqual(encoded([0xFF]), "c401ff")
        XCTAssertEqual(encoded([0xC3]), "c401c3")
        XCTAssertEqual(encoded(Array(repeating: 0x78, count: 31)).prefix(2), "bf")
        XCTAssertEqual(encoded(Array(repeating: 0x78, count: 32)).prefix(4), "d920")
        XCTAssertEqual(encoded(Array(repeating: 0x78, count: 256)).prefix(6), "da0100")
        XCTAssertEqual(encoded(Array(repeating: 0x78, count: 65536)).prefix(10), "db00010000")
        XCTAssertEqual(encoded(Array(repeating: 0xFF, count: 256)).prefix(6), "c50100")
        XCTAssertEqual(encoded(Array(repeating: 0xFF, count: 65536)).prefix(10), "c600010000")
    }

    func testContainerHeaders() {
        XCTAssertEqual(hex(written { try $0.writeArrayHeader(0) }), "90")
        XCTAssertEqual(hex(written { try $0.writeArrayHeader(15) }), "9f")
        XCTAssertEqual(hex(written { try $0.writeArrayHeader(16) }), "dc0010")
        XCTAssertEqual(hex(written { try $0.writeArrayHeader(65536) }), "dd00010000")
        XCTAssertEqual(hex(written { try $0.writeMapHeader(0) }), "80")
        XCTAssertEqual(hex(written { try $0.writeMapHeader(16) }), "de0010")
        XCTAssertEqual(hex(written { try $0.writeMapHeader(65536) }), "df00010000")
    }

    func testPatchedMapHeadersMatchDirectOnes() {
        for count in [0, 1, 15, 16, 300, 65535, 65536] {
            let direct = written { w in
                try w.writeMapHeader(count)
                for _ in 0..<count { try w.writeNil(); try w.writeNil() }
            }
            let patched = written { w in
                try w.write(0xAA)
                let slot = try w.writeMapHeaderPlaceholder()
                for _ in 0..<count { try w.writeNil(); try w.writeNil() }
                try w.patchMapHeader(at: slot, count: count)
            }
            XCTAssertEqual(patched, [0xAA] + direct, "\(count)")
        }
    }

    func testSizeLimitIsExact() {
        var writer = ByteWriter(initialCapacity: 1, limit: 20)
        XCTAssertNoThrow(try writer.writeZeros(11))
        XCTAssertNoThrow(try writer.writeDouble(1.0))   // 20 bytes: exactly the limit
        XCTAssertEqual(writer.count, 20)
        XCTAssertThrowsError(try writer.writeNil())
        XCTAssertEqual(writer.count, 20)
        var small = ByteWriter(limit: 10)
        let long = [UInt8](repeating: 0x61, count: 10)
        XCTAssertThrowsError(try writeString(long, into: &small))
        XCTAssertEqual(small.count, 0)
    }

    /// A buffer from the pool may be larger than the writer's limit: the limit still holds.
    func testTheLimitHoldsInAPoolBufferLargerThanIt() throws {
        let pool = BufferPool()
        let size = 100_000
        pool.giveBack(malloc(size)!, capacity: size)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 8)
        defer { scratch.deallocate() }
        var writer = ByteWriter(scratch: scratch, limit: 70_000, pool: pool)
        try writer.writeZeros(66_000)  // grows into the pool's buffer of 100,000 bytes
        XCTAssertEqual(pool.keptByteCount, 0, "the pool's buffer was not taken")
        XCTAssertNoThrow(try writer.writeZeros(4_000))  // exactly the limit
        XCTAssertThrowsError(try writer.writeNil())
        XCTAssertEqual(writer.count, 70_000)
    }

    /// Bytes counted outside the writer (a lent string) take their share of the limit, whether
    /// or not the writer's memory has room for more.
    func testBytesReservedOutsideCountAgainstTheLimit() throws {
        var writer = ByteWriter(initialCapacity: 64, limit: 40)
        try writer.writeZeros(10)
        XCTAssertThrowsError(try writer.reserveOutside(31))
        try writer.reserveOutside(25)
        XCTAssertNoThrow(try writer.writeZeros(5))  // 10 + 25 + 5: exactly the limit
        XCTAssertThrowsError(try writer.writeNil(), "the allocation has room, the limit has not")
        XCTAssertEqual(writer.count, 15)
    }

    /// A writer stays in the caller's scratch memory while the bytes fit; `take` adopts the heap
    /// memory they moved to (the writer is empty afterwards and goes on working).
    func testScratchThenTakeFromTheHeap() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { scratch.deallocate() }
        var small = ByteWriter(scratch: scratch, limit: 1 << 20)
        try small.writeInt(5)
        XCTAssertTrue(small.isInScratch)
        XCTAssertEqual(small.withBytes { Array($0) }, [5])

        var big = ByteWriter(scratch: scratch, limit: 1 << 20)
        try big.writeZeros(3)
        let text = [UInt8](repeating: 0x62, count: 300)
        try writeString(text, into: &big)
        big.withUnsafeMutableBytes { $0[0] = 0xEE }
        XCTAssertFalse(big.isInScratch)
        let taken = big.take()
        XCTAssertEqual(big.count, 0)
        XCTAssertEqual(taken.count, 3 + 3 + 300)
        XCTAssertEqual(taken.withUnsafeBytes { Array($0.prefix(6)) }, [0xEE, 0, 0, 0xDA, 0x01, 0x2C])
        try big.writeNil()  // the writer allocates anew; the block keeps the old memory
        XCTAssertEqual(big.withBytes { Array($0) }, [0xC0])
        XCTAssertEqual(taken.withUnsafeBytes { Array($0.suffix(300)) }, text)
    }
}
