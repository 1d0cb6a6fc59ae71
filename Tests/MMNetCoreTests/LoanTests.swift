// Loans: a lent string is read in place until recalled, then from a copy; the book hands back
// the ids of ended loans once each, and waits for a recall only while loans are out.
//
// Thread: the test's own (it plays both the Lua thread and the I/O thread).
import XCTest
@testable import MMNetCore

final class LoanTests: XCTestCase {
    /// The bytes of `block`.
    private func bytes(_ block: ByteBlock) -> [UInt8] {
        block.withUnsafeBytes { Array($0) }
    }

    func testALentBlockReadsTheScriptsBytesInPlace() {
        let book = LoanBook()
        var source: [UInt8] = [1, 2, 3]
        source.withUnsafeMutableBytes { memory in
            let block = ByteBlock(lent: book.lend(memory.baseAddress!, count: 3)!)
            XCTAssertEqual(block.count, 3)
            memory[1] = 9  // in place: the block sees the script's memory
            XCTAssertEqual(bytes(block), [1, 9, 3])
        }
    }

    func testEndedLoansAreHandedBackOnceEach() {
        let book = LoanBook()
        var source: [UInt8] = [1, 2]
        source.withUnsafeMutableBytes { memory in
            var first: ByteBlock? = ByteBlock(lent: book.lend(memory.baseAddress!, count: 2)!)
            let second = ByteBlock(lent: book.lend(memory.baseAddress! + 1, count: 1)!)
            let copy = first
            XCTAssertEqual(book.takeReturned(), [])
            first = nil
            XCTAssertEqual(book.takeReturned(), [], "a copy of the block still holds the loan")
            _ = copy.map(bytes)
            withExtendedLifetime(second) {}
        }
        // Both blocks are gone now.
        XCTAssertEqual(book.takeReturned().sorted(), [1, 2])
        XCTAssertEqual(book.takeReturned(), [])
    }

    func testARecalledLoanReadsItsCopy() {
        let book = LoanBook()
        var source: [UInt8] = [4, 5, 6]
        let block: ByteBlock = source.withUnsafeMutableBytes { memory in
            let block = ByteBlock(lent: book.lend(memory.baseAddress!, count: 3)!)
            book.recallAll()
            book.waitUntilRecalled()  // returns at once: recalled
            memory[0] = 0  // the script's memory may go now: the block reads the copy
            return block
        }
        source = []
        XCTAssertEqual(bytes(block), [4, 5, 6])
    }

    /// A loan malloc has no memory to copy at recall stays on the script's bytes, and the
    /// wait for the recall lasts until it ends (before, the process stopped: fatalError).
    func testALoanTooLargeToCopyIsWaitedForUntilItEnds() {
        let book = LoanBook()
        let byte: [UInt8] = [1]
        byte.withUnsafeBytes { one in
            // Never read: malloc refuses the size first.
            var loan = book.lend(one.baseAddress!, count: Int.max / 2)
            XCTAssertNotNil(loan)
            book.recallAll()
            let ended = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                book.waitUntilRecalled()
                ended.signal()
            }
            XCTAssertEqual(ended.wait(timeout: .now() + 0.3), .timedOut, "the loan still reads the bytes")
            loan = nil
            XCTAssertEqual(ended.wait(timeout: .now() + 5), .success, "the loan ended: the wait must end")
            withExtendedLifetime(loan) {}
        }
    }

    func testIdsAreLentUpToTheLimitAndAgainOnceHandedBack() {
        // Each id is a slot the binding made beforehand: past the limit the book lends nothing
        // (the bytes are copied) and says it is short until it grows.
        let book = LoanBook()
        var source: [UInt8] = [1]
        source.withUnsafeMutableBytes { memory in
            var held = (0..<LoanBook.initialIDLimit).map { _ in book.lend(memory.baseAddress!, count: 1)! }
            XCTAssertEqual(held.map(\.id), Array(1...LoanBook.initialIDLimit))
            XCTAssertFalse(book.isShort)
            XCTAssertNil(book.lend(memory.baseAddress!, count: 1), "no slot left")
            XCTAssertTrue(book.isShort)
            book.grow(to: LoanBook.initialIDLimit * 2)
            XCTAssertFalse(book.isShort)
            XCTAssertEqual(book.lend(memory.baseAddress!, count: 1)?.id, LoanBook.initialIDLimit + 1)
            held.remove(at: 2)  // the loan of id 3 ends
            XCTAssertEqual(book.takeReturned().sorted(), [3, LoanBook.initialIDLimit + 1])
            let again = book.lend(memory.baseAddress!, count: 1)
            XCTAssertTrue([3, LoanBook.initialIDLimit + 1].contains(again?.id ?? 0), "an id handed back is lent again")
            withExtendedLifetime(held) {}
        }
    }

    func testWaitingForARecallReturnsAtOnceWithNoLoanOut() {
        let book = LoanBook()
        book.waitUntilRecalled()
        var source: [UInt8] = [1]
        source.withUnsafeMutableBytes { memory in
            _ = ByteBlock(lent: book.lend(memory.baseAddress!, count: 1)!)
        }
        book.waitUntilRecalled()  // the one loan ended: nothing to wait for
        XCTAssertEqual(book.takeReturned(), [1])
    }
}
