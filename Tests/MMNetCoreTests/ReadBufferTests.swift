// ReadBuffer: reading, consuming, and handing a whole large frame over without a copy.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class ReadBufferTests: XCTestCase {
    /// Appends `bytes` as a read would.
    private func fill(_ buffer: inout ReadBuffer, _ bytes: [UInt8]) {
        let space = buffer.writableSpace(minimum: bytes.count)!
        space.copyBytes(from: bytes)
        buffer.didWrite(bytes.count)
    }

    private func contents(_ body: ByteBlock) -> [UInt8] {
        body.withUnsafeBytes { Array($0) }
    }

    func testTakeAllHandsOverTheBytesAfterThePrefixAndEmptiesTheBuffer() {
        var buffer = ReadBuffer()
        fill(&buffer, [0, 0, 0, 3, 0])
        fill(&buffer, [0x93, 1, 2])
        guard let body = buffer.takeAll(count: 8, droppingPrefix: 5) else { return XCTFail("not taken") }
        XCTAssertEqual(contents(body), [0x93, 1, 2])
        XCTAssertEqual(body.count, 3)
        XCTAssertEqual(buffer.count, 0)
        // The buffer works on, with memory of its own.
        fill(&buffer, [7, 8])
        XCTAssertEqual(Array(buffer.bytes), [7, 8])
        XCTAssertEqual(contents(body), [0x93, 1, 2])
    }

    func testTakeAllRefusesWhenMoreOrLessIsWaiting() {
        var buffer = ReadBuffer()
        fill(&buffer, [1, 2, 3, 4])
        XCTAssertNil(buffer.takeAll(count: 3, droppingPrefix: 0))
        XCTAssertNil(buffer.takeAll(count: 5, droppingPrefix: 0))
        XCTAssertEqual(Array(buffer.bytes), [1, 2, 3, 4])
        buffer.consume(1)
        guard let body = buffer.takeAll(count: 3, droppingPrefix: 1) else { return XCTFail("not taken") }
        XCTAssertEqual(contents(body), [3, 4])
        var empty = ReadBuffer()
        XCTAssertNil(empty.takeAll(count: 0, droppingPrefix: 0))
    }

    func testRoomThereIsNoMemoryForIsRefusedAndTheWaitingBytesAreKept() {
        var buffer = ReadBuffer(pool: BufferPool())
        fill(&buffer, [1, 2, 3])
        XCTAssertNil(buffer.writableSpace(minimum: Int.max / 4), "malloc cannot give 2^61 bytes")
        XCTAssertEqual(Array(buffer.bytes), [1, 2, 3])
        fill(&buffer, [4])
        XCTAssertEqual(Array(buffer.bytes), [1, 2, 3, 4])
    }

    func testArrayBodyKeepsItsBytes() {
        var source: [UInt8] = [9, 8, 7]
        let body = ByteBlock(source)
        source[0] = 0
        XCTAssertEqual(contents(body), [9, 8, 7])
        XCTAssertEqual(ByteBlock().count, 0)
    }
}
