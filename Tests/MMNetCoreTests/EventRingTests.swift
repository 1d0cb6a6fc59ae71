// EventRing's room: message bodies count against the byte limit in both QueueFull modes, the
// event count only in "wait" mode, and whatever leaves the ring (drained, dropped, resized
// away) gives its bytes back; losses are reported once, with the time of the first.
//
// Thread: the test's own (it plays both the I/O thread and the Lua thread).
import XCTest
@testable import MMNetCore

final class EventRingTests: EventRingTestCase {
    /// Pushes `count` EVENT_RECEIVE with bodies of `size` bytes; returns how many were dropped.
    @discardableResult
    private func push(_ ring: EventRing, _ count: Int, size: Int) -> Int {
        var batch: [Event?] = (0..<count).map { _ in
            Event(.receive, source: source, payload: ByteBlock([UInt8](repeating: 7, count: size)))
        }
        return ring.push(contentsOf: &batch).dropped.count
    }

    func testBodiesCountAgainstTheByteLimitInBothModes() {
        let ring = EventRing(capacity: 10, byteLimit: 100)
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 100)
        push(ring, 2, size: 40)
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 20)
        XCTAssertFalse(ring.holdBackIfFull())
        push(ring, 1, size: 40)  // room was left: the last one goes past the limit
        XCTAssertEqual(ring.room(for: FairShare()).bytes, -20)
        XCTAssertTrue(ring.holdBackIfFull())
        _ = ring.resize(to: 10, policy: .wait)
        XCTAssertEqual(ring.room(for: FairShare()).bytes, -20)
        XCTAssertTrue(ring.holdBackIfFull())
        var drained: [Event] = []
        let (lost, resume) = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(drained.count, 3)
        XCTAssertEqual(lost.count, 0)
        XCTAssertTrue(resume, "a drain after a hold-back lets the I/O thread read again")
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 100)
    }

    func testABatchNotAdmittedIsLeftWithItsPusherAndQueuesNothing() {
        let ring = EventRing(capacity: 10)
        var batch: [Event?] = [Event(.receive, source: source, payload: ByteBlock([1, 2, 3]))]
        var admitted = false
        XCTAssertTrue(ring.push(contentsOf: &batch, admit: { admitted }).dropped.isEmpty)
        XCTAssertEqual(ring.queued, 0)
        XCTAssertEqual(ring.queuedBytes, 0)
        XCTAssertNotNil(batch[0], "the events stay with the caller, which releases them")
        admitted = true
        _ = ring.push(contentsOf: &batch, admit: { admitted })
        XCTAssertEqual(ring.queued, 1)
        XCTAssertNil(batch[0])
    }

    func testTheEventCountHoldsBackInWaitModeOnly() {
        let ring = EventRing(capacity: 2, byteLimit: 100, policy: .wait)
        push(ring, 2, size: 1)
        XCTAssertEqual(ring.room(for: FairShare()).events, 0)
        XCTAssertTrue(ring.holdBackIfFull())
        XCTAssertEqual(ring.resize(to: 2, policy: .drop).count, 0)
        XCTAssertEqual(ring.room(for: FairShare()).events, .max)
        XCTAssertFalse(ring.holdBackIfFull())
    }

    func testAnInterruptedWaitEndsWithinACheckAndTakesNothing() {
        // lua5.4's Ctrl-C: the wait ends early; what is queued then stays for the next drain,
        // losses included (the interrupted call's result may never reach the script).
        let ring = EventRing(capacity: 1, byteLimit: 1 << 20)
        push(ring, 2, size: 1)  // one dropped
        var drained: [Event] = []
        let start = Clock.monotonic()
        var checks = 0
        let (lost, _) = ring.drain(into: &drained, timeout: 10, spin: 0) { checks += 1; return true }
        XCTAssertEqual(drained.count, 1, "events queued before the wait are taken without waiting")
        XCTAssertEqual(lost.count, 1)
        drained.removeAll()
        let (none, _) = ring.drain(into: &drained, timeout: 10, spin: 0) { checks += 1; return checks > 2 }
        XCTAssertLessThan(Clock.monotonic() - start, 2, "ended by the interrupt, not the 10 s timeout")
        XCTAssertEqual(drained.count, 0)
        XCTAssertEqual(none.count, 0)
        push(ring, 1, size: 1)
        let (_, _) = ring.drain(into: &drained, timeout: 10, spin: 0) { true }
        XCTAssertEqual(drained.count, 1, "a push ends the wait as before")
    }

    func testAPushObeysTheModeInForceWhenItLands() {
        // A batch read in "drop" mode and pushed after a switch to "wait" (the I/O thread read
        // the setting before the script changed it) drops nothing: "wait" loses nothing.
        let ring = EventRing(capacity: 2, byteLimit: 1 << 20)
        XCTAssertEqual(ring.room(for: FairShare()).events, .max, "\"drop\" mode: the I/O thread parses a whole read")
        _ = ring.resize(to: 2, policy: .wait)  // the script's Configure, meanwhile
        XCTAssertEqual(push(ring, 5, size: 1), 0)
        XCTAssertEqual(ring.queued, 5)
        XCTAssertTrue(ring.holdBackIfFull(), "and reads no more until drained")
        // Back to "drop" with more queued than the capacity: the excess goes at once, counted.
        XCTAssertEqual(ring.resize(to: 2, policy: .drop).count, 3)
        XCTAssertEqual(ring.queued, 2)
        XCTAssertEqual(ring.totalLost, 3)
    }

    func testLossesCarryTheTimeOfTheFirstOneUntilDrained() {
        // The overflow report's Timestamp: when the queue began to overflow, not when the
        // script polled (it came after every event it reported, as if the losses were last).
        let ring = EventRing(capacity: 2, byteLimit: 1 << 20)
        let before = Clock.wall()
        push(ring, 3, size: 1)  // one lost
        let between = Clock.wall()
        usleep(20_000)
        push(ring, 2, size: 1)  // two more
        var drained: [Event] = []
        let (lost, _) = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(lost.count, 3)
        XCTAssertGreaterThanOrEqual(lost.since, before)
        XCTAssertLessThanOrEqual(lost.since, between, "the first loss, not the last or the drain")
        push(ring, 1, size: 1)
        let (none, _) = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(none, EventLosses(), "reported once")
        var sum = EventLosses(count: 2, since: 20)
        sum.add(EventLosses(count: 1, since: 10))
        sum.add(EventLosses())
        XCTAssertEqual(sum, EventLosses(count: 3, since: 10), "the earlier first loss is kept")
    }

    func testAConnectionHoldsItsShareOfTheRingWhileOthersSendToo() {
        // FairShare: alone, a connection has the whole ring; with others sending since the
        // last drain, capacity / n events and byteLimit / n bytes (at least one message).
        let ring = EventRing(capacity: 10, byteLimit: 1000, policy: .wait)
        var first = FairShare(), second = FairShare(), third = FairShare()
        /// Pushes `count` messages of `size` bytes counted in `share`.
        func push(_ share: inout FairShare, _ count: Int, size: Int = 10) {
            var batch: [Event?] = (0..<count).map { _ in
                Event(.receive, source: source, payload: ByteBlock([UInt8](repeating: 7, count: size)))
            }
            _ = ring.push(contentsOf: &batch, share: &share)
        }
        XCTAssertEqual(ring.room(for: first).events, 10, "alone: the whole ring")
        push(&first, 6)
        XCTAssertEqual(ring.room(for: first).events, 4)
        XCTAssertEqual(ring.room(for: second).events, 4, "the ring's room is less than its share (5)")
        push(&second, 1)
        XCTAssertEqual(ring.room(for: first).events, -1, "over its share of 5")
        XCTAssertTrue(ring.holdBack(over: first))
        XCTAssertEqual(ring.room(for: second).events, 3)
        XCTAssertEqual(ring.room(for: third).bytes, 1000 / 3, "a third sender would get a third of the bytes")
        var drained: [Event] = []
        let (_, resume) = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertTrue(resume, "the held-back connection is resumed")
        XCTAssertEqual(ring.room(for: first).events, 10, "after a drain each starts afresh, alone again")
        ring.join(&first)
        ring.join(&second)
        XCTAssertEqual(ring.room(for: first).events, 5, "both joined before either read")
        let many = EventRing(capacity: 2, byteLimit: 1000, policy: .drop)
        var shares = [FairShare](repeating: FairShare(), count: 4)
        for index in shares.indices { many.join(&shares[index]) }
        XCTAssertEqual(many.room(for: shares[3]).events, 1, "more senders than slots: one message each")
        XCTAssertEqual(many.room(for: shares[3]).bytes, 250)
    }

    func testSharesNeverAddUpPastTheRingButEachConnectionsFirstMessageGetsIn() {
        // Counted as they came (C/1, C/2, C/3, C/4), shares added up past the ring: in "drop"
        // mode the excess dropped messages of connections within their share. Now the free
        // slots bound them, but for each connection's first message of the drain.
        for policy in [QueueFullPolicy.drop, .wait] {
            let ring = EventRing(capacity: 12, byteLimit: 1 << 20, policy: policy)
            var shares = [FairShare](repeating: FairShare(), count: 4)
            var lost = 0
            for index in shares.indices {
                let room = min(ring.room(for: shares[index]).events, 12)  // alone in "drop" mode: unbounded
                var batch: [Event?] = (0..<max(0, room)).map { _ in
                    Event(.receive, source: source, payload: ByteBlock([UInt8](repeating: 7, count: 1)))
                }
                lost += ring.push(contentsOf: &batch, share: &shares[index]).dropped.count
            }
            // The first, alone, took the whole ring; each of the others its first message only
            // (in "drop" mode dropping one of the first's, in "wait" mode past the capacity).
            XCTAssertEqual(lost, policy == .drop ? 3 : 0, "\(policy)")
            XCTAssertEqual(ring.queued, policy == .drop ? 12 : 15, "\(policy)")
            XCTAssertEqual(ring.room(for: FairShare()).events, 1, "\(policy): a newcomer's first message gets in")
            XCTAssertLessThanOrEqual(ring.room(for: shares[1]).events, 0, "\(policy): one that queued waits")
            // Joined at once (a resume), the four share the ring: 3 each, nothing dropped.
            var drained: [Event] = []
            _ = ring.drain(into: &drained, timeout: 0, spin: 0)
            for index in shares.indices { ring.join(&shares[index]) }
            for index in shares.indices {
                XCTAssertEqual(ring.room(for: shares[index]).events, 3, "\(policy)")
                var batch: [Event?] = (0..<3).map { _ in
                    Event(.receive, source: source, payload: ByteBlock([UInt8](repeating: 7, count: 1)))
                }
                XCTAssertEqual(ring.push(contentsOf: &batch, share: &shares[index]).dropped.count, 0, "\(policy)")
            }
            XCTAssertEqual(ring.queued, 12, "\(policy)")
        }
    }

    func testDropModeDropsTheOldestMessageBeforeAnyStateEvent() {
        let ring = EventRing(capacity: 4, byteLimit: 1 << 20)
        /// Pushes one event: a message of `size` bytes, or a state event named `name`.
        func push(_ kind: EventKind, _ name: String = "", size: Int = 0) -> [String] {
            var batch: [Event?] = [Event(kind, source: source, message: kind == .receive ? nil : name,
                                         payload: ByteBlock([UInt8](repeating: 1, count: size)))]
            return ring.push(contentsOf: &batch).dropped.map { $0.message ?? "m\($0.payload.count)" }
        }
        XCTAssertEqual(push(.connect, "A") + push(.error, "B"), [])
        XCTAssertEqual(push(.receive, size: 1) + push(.receive, size: 2), [])
        XCTAssertEqual(push(.receive, size: 3), ["m1"], "the oldest message, not the connect before it")
        XCTAssertEqual(push(.clientClose, "C"), ["m2"])
        XCTAssertEqual(push(.connect, "D"), ["m3"])
        XCTAssertEqual(push(.connect, "E"), ["A"], "no message left: the oldest event")
        XCTAssertEqual(push(.receive, size: 4), ["m4"], "the message arriving, not a connect before it")
        var drained: [Event] = []
        let (lost, _) = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(lost.count, 5)
        XCTAssertEqual(drained.map { $0.message ?? "m" }, ["B", "C", "D", "E"])
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 1 << 20, "the dropped messages gave their bytes back")
    }

    func testAMessageDroppedOnArrivalCountsInItsConnectionsShare() {
        // Else a sender beside others is never held to its share while only state events are
        // queued: each of its messages gets in as its first, and is dropped.
        let ring = EventRing(capacity: 4, byteLimit: 1 << 20, policy: .drop)
        for name in ["A", "B", "C", "D"] {
            var batch: [Event?] = [Event(.connect, source: source, message: name)]
            _ = ring.push(contentsOf: &batch)
        }
        var first = FairShare(), second = FairShare()
        var batch: [Event?] = [Event(.receive, source: source, payload: ByteBlock([1]))]
        XCTAssertEqual(ring.push(contentsOf: &batch, share: &first).dropped.count, 1)
        XCTAssertEqual(ring.room(for: second).events, 1, "its first message gets in whatever")
        batch = [Event(.receive, source: source, payload: ByteBlock([2]))]
        XCTAssertEqual(ring.push(contentsOf: &batch, share: &second).dropped.count, 1, "dropped on arrival")
        XCTAssertLessThanOrEqual(ring.room(for: second).events, 0, "then held to its share, not dropped on")
        XCTAssertTrue(ring.holdBack(over: second))
    }

    func testDropModeDropsAServersErrorsBeforeAConnect() throws {
        let ring = EventRing(capacity: 3, byteLimit: 1 << 20)
        let server = try Listener(address: XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 0)), key: nil,
                                  context: source.context, io: io)
        defer { server.close() }
        /// Pushes one state event named `name`, of `source` or of the server.
        func push(_ kind: EventKind, _ name: String, ofServer: Bool = false) -> [String] {
            var batch: [Event?] = [Event(kind, source: ofServer ? server : source, message: name)]
            return ring.push(contentsOf: &batch).dropped.map { $0.message! }
        }
        XCTAssertEqual(push(.connect, "A") + push(.error, "bad hello 1", ofServer: true) + push(.error, "B"), [])
        XCTAssertEqual(push(.error, "bad hello 2", ofServer: true), ["bad hello 1"], "not the connect before it")
        XCTAssertEqual(push(.connect, "C"), ["bad hello 2"])
        XCTAssertEqual(push(.connect, "D"), ["A"], "no message or server error left: the oldest event")
        XCTAssertEqual(push(.error, "bad hello 3", ofServer: true), ["bad hello 3"],
                       "the server's error arriving, not a connect before it")
        var drained: [Event] = []
        _ = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(drained.map { $0.message! }, ["B", "C", "D"])
    }

    func testDroppedAndResizedEventsGiveTheirBytesBack() {
        let ring = EventRing(capacity: 2, byteLimit: 100)
        XCTAssertEqual(push(ring, 3, size: 40), 1)  // "drop": the oldest goes
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 20)
        XCTAssertEqual(ring.resize(to: 1, policy: .drop).count, 1)
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 60)
        ring.setByteLimit(50)
        XCTAssertEqual(ring.room(for: FairShare()).bytes, 10)
    }

    func testShrinkingKeepsEveryEventInWaitModeAndTheLeastCostlyInDropMode() {
        let ring = EventRing(capacity: 4, byteLimit: 1 << 20, policy: .wait)
        var batch: [Event?] = [Event(.connect, source: source, message: "A")] +
            (1...3).map { _ in Event(.receive, source: source, payload: ByteBlock([1])) }
        XCTAssertEqual(ring.push(contentsOf: &batch).dropped.count, 0)
        XCTAssertEqual(ring.resize(to: 2, policy: .wait).count, 0, "\"wait\" loses nothing")
        XCTAssertEqual(ring.queued, 4)
        XCTAssertTrue(ring.holdBackIfFull(), "and reads no more until drained")
        let dropped = ring.resize(to: 1, policy: .drop)
        XCTAssertEqual(dropped.map(\.kind), [.receive, .receive, .receive], "the messages, not the connect")
        var drained: [Event] = []
        _ = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertEqual(drained.map { $0.message }, ["A"])
    }

    func testDropsBehindStateEventsKeepEveryOrderWhateverTheHolesTheyLeave() throws {
        // Drops leave holes in the slots; pushes, drops, compactions and drains interleaved
        // must still give back exactly the events a model queue keeps, in order.
        let server = try Listener(address: XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 0)), key: nil,
                                  context: source.context, io: io)
        defer { server.close() }
        var generator = SystemRandomNumberGenerator()
        for capacity in [1, 2, 3, 7, 64, 200] {
            let ring = EventRing(capacity: capacity, byteLimit: 1 << 30)
            var model: [(kind: EventKind, name: String, ofServer: Bool)] = []
            var dropped = 0
            for step in 0..<5_000 {
                let roll = Int.random(in: 0..<100, using: &generator)
                if step % (3 * capacity + 2) == 0 {  // three times the capacity pushed: drops every time
                    var drained: [Event] = []
                    _ = ring.drain(into: &drained, timeout: 0, spin: 0)
                    XCTAssertEqual(drained.map { $0.message! }, model.map(\.name), "capacity \(capacity), step \(step)")
                    model.removeAll()
                    continue
                }
                let kind: EventKind = roll < 55 ? .receive : roll < 75 ? .error : roll < 90 ? .connect : .clientClose
                let ofServer = kind == .error && roll % 2 == 0
                let name = "\(step)"
                var batch: [Event?] = [Event(kind, source: ofServer ? server : source, message: name)]
                let lost = ring.push(contentsOf: &batch).dropped.map { $0.message! }
                model.append((kind, name, ofServer))
                if model.count > capacity {  // full: the least costly goes, the event arriving included
                    let victim = model.firstIndex { $0.kind == .receive }
                        ?? model.firstIndex { $0.kind == .error && $0.ofServer } ?? 0
                    XCTAssertEqual(lost, [model[victim].name], "capacity \(capacity), step \(step)")
                    model.remove(at: victim)
                    dropped += 1
                } else {
                    XCTAssertEqual(lost, [], "capacity \(capacity), step \(step)")
                }
                XCTAssertEqual(ring.queued, model.count)
            }
            XCTAssertGreaterThan(dropped, 0)
            var drained: [Event] = []
            _ = ring.drain(into: &drained, timeout: 0, spin: 0)
            XCTAssertEqual(drained.map { $0.message! }, model.map(\.name))
        }
    }

    func testTheDescriptorTurnsReadableWhenABatchLargerThanTheQueueArrivesInDropMode() throws {
        // A read that parses more messages than EventQueueSize makes one batch; in "drop" mode
        // it is pushed whole and drops its own oldest. The descriptor a host sleeps on must
        // still turn readable: the ring went from empty to holding events.
        let ring = EventRing(capacity: 2, byteLimit: 1 << 30)
        let fd = try ring.descriptor()
        func readable() -> Bool {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&entry, 1, 0) == 1
        }
        XCTAssertFalse(readable())
        XCTAssertEqual(push(ring, 3, size: 1), 1)
        XCTAssertEqual(ring.queued, 2)
        XCTAssertTrue(readable(), "events queued, and the host's descriptor says none")
        var drained: [Event] = []
        _ = ring.drain(into: &drained, timeout: 0, spin: 0)
        XCTAssertFalse(readable())
        ring.close()
    }
}
