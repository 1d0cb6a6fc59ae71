// BurstDetector: which sends of a connection are isolated, with the times given by the test.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class BurstDetectorTests: XCTestCase {
    private func detector() -> BurstDetector { BurstDetector(gap: 10e-6, pause: 1e-3) }

    func testSendsCloserThanTheGapFormABurstAndAPauseEndsIt() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 100.0, firstSincePoll: false), "the first send is isolated")
        XCTAssertFalse(bursts.isIsolated(at: 100.000_004, firstSincePoll: false))
        XCTAssertFalse(bursts.isIsolated(at: 100.000_012, firstSincePoll: false),
                       "the gap counts from the previous send, not the burst's start")
        XCTAssertTrue(bursts.isIsolated(at: 100.002, firstSincePoll: false), "2 ms after the burst")
    }

    func testAWriteSlowerThanTheGapDoesNotMakeTheNextSendIsolated() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 5.0, firstSincePoll: false))
        bursts.wroteAtOnce(endingAt: 5.000_040)  // a 40 us system call
        XCTAssertFalse(bursts.isIsolated(at: 5.000_042, firstSincePoll: false),
                       "2 us after the write ended: the stream goes on")
    }

    func testAnIsolatedSendAfterAWriteStaysIsolated() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 5.0, firstSincePoll: false))
        bursts.wroteAtOnce(endingAt: 5.000_003)
        XCTAssertTrue(bursts.isIsolated(at: 5.000_300, firstSincePoll: false),
                      "300 us later, and no burst before: written at once")
    }

    /// A detector that has seen a stream: a run of `streamLength` sends 1 us apart from `start`;
    /// returns when its latest send came.
    private func afterStream(_ bursts: inout BurstDetector, from start: Double) -> Double {
        var now = start
        XCTAssertTrue(bursts.isIsolated(at: now, firstSincePoll: false))
        for _ in 1..<BurstDetector.streamLength {
            now += 1e-6
            XCTAssertFalse(bursts.isIsolated(at: now, firstSincePoll: false))
        }
        return now
    }

    func testASendSoonAfterAStreamBelongsToItUnlessItFollowsAPoll() {
        var bursts = detector()
        let end = afterStream(&bursts, from: 7.0)
        XCTAssertFalse(bursts.isIsolated(at: end + 400e-6, firstSincePoll: false),
                       "400 us after the stream's latest send: the stream, paused")
        XCTAssertTrue(bursts.isIsolated(at: end + 800e-6, firstSincePoll: true),
                      "the connection's first send since a poll: a reply, never held back")
        XCTAssertFalse(bursts.isIsolated(at: end + 805e-6, firstSincePoll: true),
                       "but within the gap of the previous send it is part of a burst")
        XCTAssertFalse(bursts.isIsolated(at: end + 900e-6, firstSincePoll: false),
                       "still within 1 ms of the stream")
        XCTAssertTrue(bursts.isIsolated(at: end + 2e-3, firstSincePoll: false),
                      "2 ms after the stream: a message of its own")
    }

    func testAShortBurstIsNoStream() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 3.0, firstSincePoll: false))
        for step in 1..<BurstDetector.streamLength - 1 {  // one send short of a stream
            XCTAssertFalse(bursts.isIsolated(at: 3.0 + Double(step) * 1e-6, firstSincePoll: false))
        }
        XCTAssertTrue(bursts.isIsolated(at: 3.000_300, firstSincePoll: false),
                      "a game's few updates, then a message of its own 300 us later: written at once")
    }
}
