// ByteSlab: many small bodies in one shared region, each block keeping its own bytes.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class ByteSlabTests: XCTestCase {
    private func contents(_ block: ByteBlock) -> [UInt8] {
        block.withUnsafeBytes { Array($0) }
    }

    private func copy(_ slab: inout ByteSlab, _ bytes: [UInt8], expected: Int) -> ByteBlock {
        bytes.withUnsafeBytes { slab.copy($0, expected: expected)! }
    }

    func testBlocksKeepTheirBytesAcrossRegionsAndSealing() {
        var slab = ByteSlab()
        // The first region is sized for what is expected (16 bytes): the third body does not
        // fit and starts a second region; sealing trims each region to what it holds.
        let a = copy(&slab, [1, 2, 3], expected: 16)
        let b = copy(&slab, Array(repeating: 7, count: 10), expected: 13)
        let c = copy(&slab, [4, 5, 6, 8], expected: 4)
        let empty = copy(&slab, [], expected: 0)
        slab.seal()
        let d = copy(&slab, [9], expected: 1)
        slab.seal()
        XCTAssertEqual(contents(a), [1, 2, 3])
        XCTAssertEqual(contents(b), Array(repeating: 7, count: 10))
        XCTAssertEqual(contents(c), [4, 5, 6, 8])
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(contents(d), [9])
        XCTAssertEqual([a.count, b.count, c.count, d.count], [3, 10, 4, 1])
    }

    func testABodyLargerThanARegionGetsOneOfItsOwnSize() {
        var slab = ByteSlab()
        let big = [UInt8]((0..<(ByteSlab.regionSize + 100)).map { UInt8(truncatingIfNeeded: $0) })
        let small = copy(&slab, [42], expected: big.count + 1)
        let block = copy(&slab, big, expected: big.count)
        slab.seal()
        XCTAssertEqual(contents(small), [42])
        XCTAssertEqual(contents(block), big)
    }

    func testBlocksOutliveEachOtherInAnyOrder() {
        var slab = ByteSlab()
        var blocks = (0..<100).map { i in copy(&slab, [UInt8(i), UInt8(i)], expected: 200) }
        slab.seal()
        blocks.removeFirst(50)
        XCTAssertEqual(blocks.map(contents), (50..<100).map { [UInt8($0), UInt8($0)] })
    }
}
