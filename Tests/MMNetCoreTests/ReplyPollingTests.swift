// ReplyPolling: the window a delivery opens (twice the script's spin, at most `longest`) and the
// back-off after windows that caught nothing (none, one, two, four ... deliveries skipped).
//
// Thread: the test's own.
import XCTest
@testable import MMNetCore

final class ReplyPollingTests: XCTestCase {
    func testADeliveryOpensTwiceTheSpinAtMostTheLongest() {
        var polling = ReplyPolling()
        XCTAssertEqual(polling.until, 0)
        polling.delivered(now: 10, spin: 50e-6)
        XCTAssertEqual(polling.until, 10 + 100e-6, accuracy: 1e-9)
        polling.delivered(now: 20, spin: 0.01)
        XCTAssertEqual(polling.until, 20 + ReplyPolling.longest, accuracy: 1e-9, "SpinWait 10 ms: the thread polled 20 ms a delivery")
    }

    /// Delivers once at `now` and tells whether that opened a window.
    private func opens(_ polling: inout ReplyPolling, at now: Double) -> Bool {
        polling.delivered(now: now, spin: 50e-6)
        return polling.until > now
    }

    func testWindowsThatCatchNothingAreOpenedLessAndLessOften() {
        var polling = ReplyPolling()
        var now = 1.0
        var opened: [Bool] = []
        for _ in 0..<12 {
            now += 1
            let open = opens(&polling, at: now)
            opened.append(open)
            if open { polling.ended(caught: false) }
        }
        // Wasted windows: then 1, 2 and 4 deliveries without one.
        XCTAssertEqual(opened, [true, false, true, false, false, true, false, false, false, false, true, false])
    }

    func testAWindowThatCatchesSomethingEndsTheBackOff() {
        var polling = ReplyPolling()
        var now = 1.0
        for _ in 0..<3 {  // two wasted windows: the next two deliveries open none
            now += 1
            if opens(&polling, at: now) { polling.ended(caught: false) }
        }
        for _ in 0..<2 {
            now += 1
            XCTAssertFalse(opens(&polling, at: now))
        }
        now += 1
        XCTAssertTrue(opens(&polling, at: now))
        polling.ended(caught: true)
        now += 1
        XCTAssertTrue(opens(&polling, at: now), "a ping-pong polls at every delivery")
        polling.ended(caught: false)
        now += 1
        XCTAssertFalse(opens(&polling, at: now), "one wasted window after a caught one skips one delivery")
        now += 1
        XCTAssertTrue(opens(&polling, at: now))
    }

    func testTheBackOffStopsAtTheMostSkipped() {
        var polling = ReplyPolling()
        var now = 1.0
        var run = 0
        var longest = 0
        for _ in 0..<1000 {
            now += 1
            if opens(&polling, at: now) {
                polling.ended(caught: false)
                run = 0
            } else {
                run += 1
                longest = max(longest, run)
            }
        }
        XCTAssertEqual(longest, ReplyPolling.mostSkipped)
    }
}
