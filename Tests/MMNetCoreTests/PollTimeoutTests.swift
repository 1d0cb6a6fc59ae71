// The I/O thread's wait: `Posix.poll` with a timeout in seconds, finer than a millisecond
// (bursts of sends are written 100 us after they start).
//
// Thread: the test's own.
import Glibc
import XCTest
@testable import MMNetCore

final class PollTimeoutTests: XCTestCase {
    /// Polls one eventfd for readability with `timeout`; returns the ready count and the
    /// seconds the call took.
    private func pollEventfd(signaled: Bool, timeout: Double?) throws -> (ready: Int, seconds: Double) {
        let fd = try Posix.eventfd()
        defer { Posix.close(fd) }
        if signaled { Posix.signal(eventfd: fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let start = Clock.monotonic()
        let ready = try Posix.poll(&entry, count: 1, timeout: timeout)
        return (ready, Clock.monotonic() - start)
    }

    func testSubMillisecondTimeoutWaitsAtLeastThatLong() throws {
        let (ready, seconds) = try pollEventfd(signaled: false, timeout: 200e-6)
        XCTAssertEqual(ready, 0)
        XCTAssertGreaterThanOrEqual(seconds, 200e-6)
        // Not read as milliseconds or whole seconds (a generous bound for a loaded machine).
        XCTAssertLessThan(seconds, 0.5)
    }

    func testTimeoutWithWholeAndFractionalSeconds() throws {
        let (ready, seconds) = try pollEventfd(signaled: false, timeout: 1.25)
        XCTAssertEqual(ready, 0)
        XCTAssertGreaterThanOrEqual(seconds, 1.25)
        XCTAssertLessThan(seconds, 3)
    }

    func testReadyDescriptorReturnsWithoutWaiting() throws {
        XCTAssertEqual(try pollEventfd(signaled: true, timeout: nil).ready, 1)
        XCTAssertEqual(try pollEventfd(signaled: true, timeout: 10).ready, 1)
    }

    func testPastDeadlineIsAZeroTimeout() throws {
        XCTAssertEqual(try pollEventfd(signaled: false, timeout: -1).ready, 0)
    }
}
