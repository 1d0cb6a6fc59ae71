// BufferPool: large buffers handed out again instead of freed, within its limits, and freed
// when idle; the encoder's writer and the read buffer use it.
//
// Thread: the test's own.
import Glibc
import XCTest
@testable import MMNetCore

final class BufferPoolTests: XCTestCase {
    private let large = BufferPool.minimumSize

    func testABufferGivenBackIsTakenAgainForANeedOfAtLeastHalfItsSize() {
        let pool = BufferPool()
        let memory = malloc(4 * large)!
        pool.giveBack(memory, capacity: 4 * large)
        XCTAssertNil(pool.take(minimum: large), "a need under half the buffer gets its own")
        XCTAssertNil(pool.take(minimum: 4 * large + 1), "too small for the need")
        guard let taken = pool.take(minimum: 3 * large) else { return XCTFail("not taken") }
        XCTAssertEqual(taken.memory, memory)
        XCTAssertEqual(taken.capacity, 4 * large)
        XCTAssertNil(pool.take(minimum: 3 * large), "taken once only")
        free(taken.memory)
    }

    func testTheSmallestFittingBufferIsTaken() {
        let pool = BufferPool()
        let big = malloc(8 * large)!, middle = malloc(6 * large)!
        pool.giveBack(big, capacity: 8 * large)
        pool.giveBack(middle, capacity: 6 * large)
        XCTAssertEqual(pool.take(minimum: 5 * large)?.memory, middle)
        XCTAssertEqual(pool.take(minimum: 5 * large)?.memory, big)
        free(big)
        free(middle)
    }

    func testSmallBuffersAndBuffersPastTheLimitsAreFreedNotKept() {
        let pool = BufferPool()
        pool.giveBack(malloc(large - 1)!, capacity: large - 1)
        XCTAssertEqual(pool.keptByteCount, 0)
        for _ in 0..<(BufferPool.maxBuffers + 2) { pool.giveBack(malloc(large)!, capacity: large) }
        XCTAssertEqual(pool.keptByteCount, BufferPool.maxBuffers * large)
        let pool2 = BufferPool()
        pool2.giveBack(malloc(BufferPool.maxBytes + 1)!, capacity: BufferPool.maxBytes + 1)
        XCTAssertEqual(pool2.keptByteCount, 0)
    }

    func testAFullPoolKeepsTheNewestBuffersAndFollowsTheSizesInUse() {
        let pool = BufferPool()
        for _ in 0..<BufferPool.maxBuffers { pool.giveBack(malloc(large)!, capacity: large) }
        let newer = malloc(4 * large)!
        pool.giveBack(newer, capacity: 4 * large)
        XCTAssertEqual(pool.keptByteCount, (BufferPool.maxBuffers - 1) * large + 4 * large, "the oldest went")
        XCTAssertEqual(pool.take(minimum: 3 * large)?.memory, newer, "the newest was kept")
        free(newer)
        // Over the byte limit: as many of the oldest go as it takes.
        let huge = BufferPool.maxBytes - 2 * large
        pool.giveBack(malloc(huge)!, capacity: huge)
        XCTAssertLessThanOrEqual(pool.keptByteCount, BufferPool.maxBytes)
        let taken = pool.take(minimum: huge)
        XCTAssertEqual(taken?.capacity, huge)
        free(taken?.memory)
        pool.releaseIfIdle(now: Clock.monotonic() + BufferPool.idleTime + 0.1)
    }

    func testFreshBuffersAreASizeClassLargeSoThatNearbySizesShareThem() {
        XCTAssertEqual(BufferPool.capacity(for: large - 1), large - 1, "not pooled: exact")
        XCTAssertEqual(BufferPool.capacity(for: large), large)
        XCTAssertEqual(BufferPool.capacity(for: large + 1), large + large / 8)
        XCTAssertEqual(BufferPool.capacity(for: 1 << 20), 1 << 20)
        XCTAssertEqual(BufferPool.capacity(for: (1 << 20) + 31), (1 << 20) + (1 << 17))
        for size in [large, large + 5, 100_000, (1 << 20) - 1, 3 << 20, 5_000_000] {
            let capacity = BufferPool.capacity(for: size)
            XCTAssertGreaterThanOrEqual(capacity, size)
            XCTAssertLessThanOrEqual(capacity, size + size / 8)
        }
        // Messages a few bytes apart (a sequence number growing by a byte) reuse one buffer:
        // with exact sizes, the buffer of the smaller one was too small for the next.
        let pool = BufferPool()
        guard let first = BufferPool.allocate((1 << 20) + 29, from: pool) else { return XCTFail("malloc") }
        BufferPool.release(first.memory, capacity: first.capacity, to: pool)
        guard let second = BufferPool.allocate((1 << 20) + 31, from: pool) else { return XCTFail("malloc") }
        XCTAssertEqual(second.memory, first.memory)
        free(second.memory)
    }

    func testIdleBuffersAreFreed() {
        let pool = BufferPool()
        pool.giveBack(malloc(large)!, capacity: large)
        pool.releaseIfIdle(now: Clock.monotonic())
        XCTAssertEqual(pool.keptByteCount, large, "just given back: kept")
        pool.releaseIfIdle(now: Clock.monotonic() + BufferPool.idleTime + 0.1)
        XCTAssertEqual(pool.keptByteCount, 0)
        XCTAssertNil(pool.take(minimum: large))
    }

    func testEachBufferIsFreedOnceKeptIdleWhileAnotherStaysInUse() {
        let pool = BufferPool()
        let old = malloc(large)!, recent = malloc(large)!
        pool.giveBack(old, capacity: large)
        let oldGivenBack = Clock.monotonic()
        usleep(200_000)
        pool.giveBack(recent, capacity: large)
        pool.releaseIfIdle(now: oldGivenBack + BufferPool.idleTime + 0.1)
        XCTAssertEqual(pool.keptByteCount, large, "the one kept idle went, the other stays")
        XCTAssertEqual(pool.take(minimum: large)?.memory, recent)
        free(recent)
    }

    func testASteadyUserTakesTheBufferGivenBackLastAndLeavesTheOthersIdle() {
        // Pings on idle connections: each read takes a buffer of `minimumSize` and gives it
        // back. Taking the oldest rotated through every kept buffer, so none was ever idle.
        let pool = BufferPool()
        let kept = (0..<4).map { _ in malloc(large)! }
        for memory in kept { pool.giveBack(memory, capacity: large) }
        for _ in 0..<10 {
            guard let taken = pool.take(minimum: large) else { return XCTFail("not taken") }
            XCTAssertEqual(taken.memory, kept[3])
            pool.giveBack(taken.memory, capacity: taken.capacity)
        }
        pool.releaseIfIdle(now: Clock.monotonic() + BufferPool.idleTime + 0.1)
    }

    func testALargeFrameGoesBackToThePoolWhenItsLastBlockGoes() throws {
        let pool = BufferPool()
        let payload = [UInt8](repeating: 0x61, count: 2 * large)
        var block: ByteBlock? = try withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { scratch in
            var writer = ByteWriter(scratch: scratch, limit: 1 << 24, pool: pool)
            try payload.withUnsafeBytes { try writer.write($0.baseAddress!, count: $0.count) }
            return writer.take()
        }
        XCTAssertEqual(block?.count, payload.count)
        XCTAssertEqual(block?.withUnsafeBytes { Array($0) }, payload)
        XCTAssertEqual(pool.keptByteCount, 0)
        block = nil
        XCTAssertGreaterThanOrEqual(pool.keptByteCount, payload.count)
        // The next large encoding takes it again.
        let again = try withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { scratch in
            var writer = ByteWriter(scratch: scratch, limit: 1 << 24, pool: pool)
            try payload.withUnsafeBytes { try writer.write($0.baseAddress!, count: $0.count) }
            return writer.take()
        }
        XCTAssertEqual(pool.keptByteCount, 0)
        XCTAssertEqual(again.withUnsafeBytes { Array($0) }, payload)
    }

    func testTheReadBufferTakesAndGivesBackLargeBuffers() {
        let pool = BufferPool()
        var buffer = ReadBuffer(pool: pool)
        let space = buffer.writableSpace(minimum: 2 * large)!
        XCTAssertGreaterThanOrEqual(space.count, 2 * large)
        space.initializeMemory(as: UInt8.self, repeating: 7)
        buffer.didWrite(2 * large)
        guard let body = buffer.takeAll(count: 2 * large, droppingPrefix: 5) else { return XCTFail("not taken") }
        XCTAssertEqual(body.count, 2 * large - 5)
        XCTAssertEqual(pool.keptByteCount, 0)
        _ = consume body
        XCTAssertGreaterThanOrEqual(pool.keptByteCount, 2 * large)
        _ = buffer.writableSpace(minimum: 2 * large)
        XCTAssertEqual(pool.keptByteCount, 0, "the next large read reuses it")
        buffer.release()
        XCTAssertGreaterThanOrEqual(pool.keptByteCount, 2 * large)
    }

    func testALargeBodyCopiedIntoThePoolGoesBackToIt() {
        let pool = BufferPool()
        let bytes = [UInt8](repeating: 0x5A, count: 3 * large)
        var block: ByteBlock? = bytes.withUnsafeBytes { ByteBlock(copying: $0, pool: pool) }
        XCTAssertEqual(block?.withUnsafeBytes { Array($0) }, bytes)
        let memory = block?.withUnsafeBytes { $0.baseAddress }
        block = nil
        XCTAssertGreaterThanOrEqual(pool.keptByteCount, bytes.count)
        let again = bytes.withUnsafeBytes { ByteBlock(copying: $0, pool: pool) }
        XCTAssertEqual(again?.withUnsafeBytes { $0.baseAddress }, memory, "the next large copy reuses it")
        XCTAssertEqual(pool.keptByteCount, 0)
        // A claim of 2^61 bytes: the allocation fails before a byte is read.
        let byte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        defer { byte.deallocate() }
        XCTAssertNil(ByteBlock(copying: UnsafeRawBufferPointer(start: byte, count: Int.max / 4), pool: pool),
                     "no memory: nil, not a crash")
    }
}
