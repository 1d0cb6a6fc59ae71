// BurstDetector: which sends of a connection form a burst, with the times given by the test.
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class BurstDetectorTests: XCTestCase {
    func testSendsCloserThanTheGapFormABurstAndAPauseEndsIt() {
        var bursts = BurstDetector(gap: 10e-6)
        XCTAssertFalse(bursts.isBurst(at: 100.0), "the first send is isolated")
        XCTAssertTrue(bursts.isBurst(at: 100.000_004))
        XCTAssertTrue(bursts.isBurst(at: 100.000_012), "the gap counts from the previous send, not the burst's start")
        XCTAssertFalse(bursts.isBurst(at: 100.000_030), "18 us after the previous send")
    }

    func testAWriteSlowerThanTheGapDoesNotMakeTheNextSendIsolated() {
        var bursts = BurstDetector(gap: 10e-6)
        XCTAssertFalse(bursts.isBurst(at: 5.0))
        bursts.wroteAtOnce(endingAt: 5.000_040)  // a 40 us system call
        XCTAssertTrue(bursts.isBurst(at: 5.000_042), "2 us after the write ended: the stream goes on")
    }

    func testAnIsolatedSendAfterAWriteStaysIsolated() {
        var bursts = BurstDetector(gap: 10e-6)
        XCTAssertFalse(bursts.isBurst(at: 5.0))
        bursts.wroteAtOnce(endingAt: 5.000_003)
        XCTAssertFalse(bursts.isBurst(at: 5.001), "a reply 1 ms later is written at once")
    }

    func testASendSoonAfterABurstFollowsIt() {
        var bursts = BurstDetector(gap: 10e-6)
        XCTAssertFalse(bursts.isBurst(at: 7.0))
        XCTAssertFalse(bursts.followsBurst(at: 7.0, within: 1e-3), "no burst yet")
        XCTAssertTrue(bursts.isBurst(at: 7.000_005))
        XCTAssertFalse(bursts.isBurst(at: 7.000_400), "isolated: 395 us after the previous send")
        XCTAssertTrue(bursts.followsBurst(at: 7.000_400, within: 1e-3), "395 us after the burst's latest send")
        XCTAssertFalse(bursts.isBurst(at: 7.002))
        XCTAssertFalse(bursts.followsBurst(at: 7.002, within: 1e-3), "2 ms after the burst: a message of its own")
    }
}
