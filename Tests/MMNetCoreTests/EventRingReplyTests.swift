// EventRing's word to the I/O thread about a script waiting for a reply: `push` returns the
// spin time of a wait that spun, while that wait lasts, and 0 for any other wait or none.
//
// Thread: the test's own (the I/O thread's side) and one it starts (the Lua thread's side).
import Foundation
import XCTest
@testable import MMNetCore

final class EventRingReplyTests: EventRingTestCase {
    /// Pushes `count` EVENT_RECEIVE (0: an empty batch, which only asks); returns the reply spin.
    private func push(_ ring: EventRing, _ count: Int) -> Double {
        var batch: [Event?] = (0..<count).map { _ in Event(.receive, source: source, payload: ByteBlock([1])) }
        return ring.push(contentsOf: &batch).replySpin
    }

    /// Drains `ring` on a thread of its own (waiting up to 10 s, spinning `spin` seconds first);
    /// `take` returns how many events it got, once it has (nil after 5 s).
    private final class Drain: @unchecked Sendable {
        private let done = NSCondition()
        private var got: Int?

        init(_ ring: EventRing, spin: Double) {
            Thread.detachNewThread { [self] in
                var events: [Event] = []
                _ = ring.drain(into: &events, timeout: 10, spin: spin)
                done.lock()
                got = events.count
                done.signal()
                done.unlock()
            }
        }

        func take() -> Int? {
            done.lock()
            defer { done.unlock() }
            let limit = Date().addingTimeInterval(5)
            while got == nil && done.wait(until: limit) {}
            return got
        }
    }

    func testAWaitThatSpinsAsksTheIOThreadToPollForTheNextReply() {
        let ring = EventRing(capacity: 10)
        XCTAssertEqual(push(ring, 0), 0, "no script waits")
        let drain = Drain(ring, spin: 0.002)
        // The waiting thread starts spinning at some point: until then the answer is 0.
        let limit = Date().addingTimeInterval(5)
        var spin = 0.0
        while spin == 0 && Date() < limit { spin = push(ring, 0) }
        XCTAssertEqual(spin, 0.002, "a wait that spins for a reply; the I/O thread was not told")
        XCTAssertEqual(push(ring, 1), 0.002, "the reply itself is delivered to a waiting script")
        XCTAssertEqual(drain.take(), 1)
        XCTAssertEqual(push(ring, 0), 0, "the wait is over")
    }

    func testAWaitThatDoesNotSpinLetsTheIOThreadSleep() {
        let ring = EventRing(capacity: 10)
        let drain = Drain(ring, spin: 0)
        let end = Date().addingTimeInterval(0.05)
        while Date() < end { XCTAssertEqual(push(ring, 0), 0, "a script that only receives is waiting") }
        XCTAssertEqual(push(ring, 1), 0)
        XCTAssertEqual(drain.take(), 1)
    }
}
