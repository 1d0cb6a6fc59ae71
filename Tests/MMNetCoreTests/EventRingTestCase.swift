// A test case for the event ring's tests: the process's I/O thread, held for each test, and an
// endpoint whose events the tests queue.
//
// Thread: the test's own (the ring tests play both the I/O thread and the Lua thread).
import XCTest
@testable import MMNetCore

/// Base of `EventRingTests` and `EventRingStressTests`: `io` is acquired for every test and
/// released after it; `source` is an endpoint of a fresh context served by it.
class EventRingTestCase: XCTestCase {
    /// The I/O thread (a listener made in a test needs it).
    var io: IOThread!
    /// The object the tests' events are about.
    var source: Endpoint!

    override func setUpWithError() throws {
        io = try IOThread.acquire()
        source = Endpoint(context: ScriptContext(io: io))
    }

    override func tearDown() {
        source = nil
        io = nil
        IOThread.release()
    }
}
