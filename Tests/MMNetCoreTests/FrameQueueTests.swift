// FrameQueue: small frames packed into one region in order, large ones shared, partial writes
// put back in front, and regions that grow and close at their size limit.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class FrameQueueTests: XCTestCase {
    /// Appends `bytes` as a borrowed frame, minus the first `written`.
    private func append(_ queue: inout FrameQueue, _ bytes: [UInt8], skipping written: Int = 0) {
        XCTAssertTrue(bytes.withUnsafeBytes { queue.append(.borrowed($0), skipping: written) })
    }

    /// Every byte of `blocks`, the first from `offset`, and the blocks' sizes.
    private func contents(_ taken: (blocks: [ByteBlock], offset: Int)) -> (bytes: [UInt8], sizes: [Int]) {
        var bytes: [UInt8] = []
        for (index, block) in taken.blocks.enumerated() {
            block.withUnsafeBytes { bytes += $0.dropFirst(index == 0 ? taken.offset : 0) }
        }
        return (bytes, taken.blocks.map(\.count))
    }

    func testBorrowedFramesArePackedIntoOneBlockInOrder() {
        var queue = FrameQueue()
        XCTAssertTrue(queue.isEmpty)
        append(&queue, [1, 2, 3])
        append(&queue, [4])
        append(&queue, [5, 6])
        XCTAssertFalse(queue.isEmpty)
        let taken = contents(queue.takeAll())
        XCTAssertEqual(taken.bytes, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(taken.sizes, [6])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(queue.takeAll().blocks.count, 0)
    }

    func testSharedBlocksKeepTheirPlaceBetweenBorrowedFrames() {
        var queue = FrameQueue()
        append(&queue, [1, 2])
        let shared = ByteBlock([3, 4, 5])
        queue.append(shared)
        append(&queue, [6])
        let taken = contents(queue.takeAll())
        XCTAssertEqual(taken.bytes, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(taken.sizes, [2, 3, 1])
    }

    func testTheWrittenStartOfAFrameIsSkipped() {
        var borrowed = FrameQueue()
        append(&borrowed, [1, 2, 3, 4], skipping: 3)
        append(&borrowed, [5])
        XCTAssertEqual(contents(borrowed.takeAll()).bytes, [4, 5])

        var shared = FrameQueue()
        XCTAssertTrue(shared.append(.shared(ByteBlock([1, 2, 3, 4])), skipping: 1))
        let taken = shared.takeAll()
        XCTAssertEqual(taken.offset, 1)
        XCTAssertEqual(contents(taken).bytes, [2, 3, 4])
    }

    func testWhatAWriteLeftGoesBackAheadOfLaterFrames() {
        var queue = FrameQueue()
        append(&queue, [1, 2, 3])
        queue.append(ByteBlock([4, 5]))
        let first = queue.takeAll()
        XCTAssertEqual(first.blocks.count, 2)
        append(&queue, [6, 7])  // sent while the write was going on
        // The write took the first block and one byte of the second.
        queue.putBack(first.blocks[1...], offset: 1)
        let taken = queue.takeAll()
        XCTAssertEqual(taken.offset, 1)
        XCTAssertEqual(contents(taken).bytes, [5, 6, 7])
        // Nothing left over: nothing put back, the offset starts at 0 again.
        queue.putBack(first.blocks[2...], offset: 9)
        append(&queue, [8])
        XCTAssertEqual(queue.takeAll().offset, 0)
    }

    func testRegionsGrowToTheirLimitThenANewOneStarts() {
        var queue = FrameQueue()
        let frame = [UInt8](repeating: 0xAB, count: 1000)
        var expected: [UInt8] = []
        for index in 0..<200 {
            var bytes = frame
            bytes[0] = UInt8(truncatingIfNeeded: index)
            append(&queue, bytes)
            expected += bytes
        }
        let taken = contents(queue.takeAll())
        XCTAssertEqual(taken.bytes, expected)
        XCTAssertEqual(taken.sizes.reduce(0, +), 200_000)
        XCTAssertGreaterThan(taken.sizes.count, 1)
        XCTAssertTrue(taken.sizes.allSatisfy { $0 <= FrameQueue.regionSize })
    }

    func testABorrowedFrameLargerThanARegionGetsOneOfItsOwn() {
        var queue = FrameQueue()
        append(&queue, [1])
        let large = [UInt8](repeating: 7, count: FrameQueue.regionSize + 10)
        append(&queue, large)
        append(&queue, [2])
        let taken = contents(queue.takeAll())
        XCTAssertEqual(taken.sizes, [1, large.count, 1])
        XCTAssertEqual(taken.bytes, [1] + large + [2])
    }

    func testASplicedFrameGoesOutAsItsPiecesInOrder() {
        var queue = FrameQueue()
        append(&queue, [1])
        let frame: [UInt8] = [2, 3, 4, 5]
        let splices = [Splice(offset: 0, block: ByteBlock([10, 11])), Splice(offset: 2, block: ByteBlock([12])),
                       Splice(offset: 2, block: ByteBlock([13])), Splice(offset: 4, block: ByteBlock([14]))]
        frame.withUnsafeBytes { bytes in
            let spliced = OutgoingFrame.spliced(bytes, splices)
            XCTAssertFalse(spliced.isContiguous)
            XCTAssertEqual(spliced.count, 9)
            XCTAssertTrue(queue.append(spliced))
        }
        append(&queue, [6])
        let taken = contents(queue.takeAll())
        XCTAssertEqual(taken.bytes, [1, 10, 11, 2, 3, 12, 13, 4, 5, 14, 6])
        XCTAssertEqual(taken.sizes, [1, 2, 2, 1, 1, 2, 1, 1])
    }

    /// A frame whose copy malloc cannot hold (a spliced frame's own bytes can be up to
    /// MaxMessageSize) is refused, the queue unchanged; before, the process stopped
    /// (fatalError), and a region that could not grow leaked.
    func testAFrameWithNoMemoryForItsCopyIsRefusedAndTheQueueIsUnchanged() {
        var queue = FrameQueue()
        append(&queue, [1])
        let byte: [UInt8] = [9]
        byte.withUnsafeBytes { one in
            // Never read: malloc refuses the size first.
            let huge = UnsafeRawBufferPointer(start: one.baseAddress, count: Int.max / 2)
            XCTAssertFalse(queue.append(.borrowed(huge)))
            XCTAssertFalse(queue.append(.spliced(huge, [Splice(offset: 1, block: ByteBlock([10]))])))
        }
        append(&queue, [2])
        XCTAssertEqual(contents(queue.takeAll()).bytes, [1, 2])
    }

    func testRemoveAllDropsEverything() {
        var queue = FrameQueue()
        append(&queue, [1, 2])
        queue.append(ByteBlock([3]))
        append(&queue, [4])
        queue.removeAll()
        XCTAssertTrue(queue.isEmpty)
        append(&queue, [5])
        XCTAssertEqual(contents(queue.takeAll()).bytes, [5])
    }
}
