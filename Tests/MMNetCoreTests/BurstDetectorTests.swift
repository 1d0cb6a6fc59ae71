// BurstDetector: which sends of a connection are isolated, with the times given by the test.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class BurstDetectorTests: XCTestCase {
    private func detector() -> BurstDetector { BurstDetector(gap: 10e-6, pause: 1e-3) }

    func testSendsCloserThanTheGapFormABurstAndAPauseEndsIt() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 100.0, firstSinceDrain: false), "the first send is isolated")
        XCTAssertFalse(bursts.isIsolated(at: 100.000_004, firstSinceDrain: false))
        XCTAssertFalse(bursts.isIsolated(at: 100.000_012, firstSinceDrain: false),
                       "the gap counts from the previous send, not the burst's start")
        XCTAssertTrue(bursts.isIsolated(at: 100.002, firstSinceDrain: false), "2 ms after the burst")
    }

    func testAWriteSlowerThanTheGapDoesNotMakeTheNextSendIsolated() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 5.0, firstSinceDrain: false))
        bursts.wroteAtOnce(endingAt: 5.000_040)  // a 40 us system call
        XCTAssertFalse(bursts.isIsolated(at: 5.000_042, firstSinceDrain: false),
                       "2 us after the write ended: the stream goes on")
    }

    func testAnIsolatedSendAfterAWriteStaysIsolated() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 5.0, firstSinceDrain: false))
        bursts.wroteAtOnce(endingAt: 5.000_003)
        XCTAssertTrue(bursts.isIsolated(at: 5.000_300, firstSinceDrain: false),
                      "300 us later, and no burst before: written at once")
    }

    func testASendSoonAfterABurstBelongsToItsStreamUnlessItFollowsAPoll() {
        var bursts = detector()
        XCTAssertTrue(bursts.isIsolated(at: 7.0, firstSinceDrain: false))
        XCTAssertFalse(bursts.isIsolated(at: 7.000_005, firstSinceDrain: false))
        XCTAssertFalse(bursts.isIsolated(at: 7.000_400, firstSinceDrain: false),
                       "395 us after the burst's latest send: the stream, paused")
        XCTAssertTrue(bursts.isIsolated(at: 7.000_800, firstSinceDrain: true),
                      "the script's first send since a poll: a reply, never held back")
        XCTAssertFalse(bursts.isIsolated(at: 7.000_805, firstSinceDrain: true),
                       "but within the gap of the previous send it is part of a burst")
        XCTAssertTrue(bursts.isIsolated(at: 7.002, firstSinceDrain: false),
                      "2 ms after the burst: a message of its own")
    }
}
