// EventRing against a model queue with what the model-based test of EventRingTests leaves out:
// batches of several events, both QueueFull modes, resizes up and down, message bodies (bytes),
// and the ring's private invariants read through Mirror after every step (used <= slots, the
// search hints <= used with no message / server error before them, no slot in use past used,
// no hole at head, count = events held), and the slot array bounded by 4x the larger of the
// capacity and the events held.
//
// Thread: the test's own (it plays both the I/O thread and the Lua thread).
import XCTest
@testable import MMNetCore

final class EventRingStressTests: EventRingTestCase {
    private func ident(_ e: Event) -> String {
        e.kind == .receive ? e.payload.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } : e.message!
    }

    private func field<T>(_ ring: EventRing, _ name: String) -> T {
        Mirror(reflecting: ring).children.first { $0.label == name }!.value as! T
    }

    private func checkInvariants(_ ring: EventRing, maxSlots: inout Int, _ where_: String) {
        let slots: [Event?] = field(ring, "slots")
        let head: Int = field(ring, "head")
        let used: Int = field(ring, "used")
        let count: Int = field(ring, "count")
        let scanFrom: Int = field(ring, "scanFrom")
        let errorScanFrom: Int = field(ring, "errorScanFrom")
        maxSlots = max(maxSlots, slots.count)
        XCTAssertLessThanOrEqual(used, slots.count, where_)
        XCTAssertLessThanOrEqual(scanFrom, used, where_)
        XCTAssertLessThanOrEqual(errorScanFrom, used, where_)
        var live = 0
        for offset in 0..<slots.count {
            let event = slots[(head + offset) % max(slots.count, 1)]
            if offset >= used { XCTAssertNil(event, "slot past used, " + where_); continue }
            if event != nil { live += 1 }
            if offset < scanFrom { XCTAssertNotEqual(event?.kind, .receive, "message before scanFrom, " + where_) }
            if offset < errorScanFrom, let event { XCTAssertFalse(event.kind == .error && event.source is Listener, "server error before errorScanFrom, " + where_) }
        }
        XCTAssertEqual(live, count, where_)
        if used > 0 { XCTAssertNotNil(slots[head], "hole at head, " + where_) }
    }

    func testModelWithBatchesPoliciesAndResizes() throws {
        let server = try Listener(address: XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 0)), key: nil,
                                  context: source.context, io: io)
        defer { server.close() }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<16 {
            var capacity = [1, 2, 3, 7, 64, 65, 200, 1000][round % 8]
            let ring = EventRing(capacity: capacity, byteLimit: 1 << 40)
            typealias M = (kind: EventKind, name: String, ofServer: Bool, size: Int)
            var model: [M] = []
            var policy: QueueFullPolicy = .drop
            var maxSlots = 0
            var maxCapacity = capacity
            var maxCount = 0
            func victim() -> Int {
                model.firstIndex { $0.kind == .receive } ?? model.firstIndex { $0.kind == .error && $0.ofServer } ?? 0
            }
            for step in 0..<3_000 {
                let here = "round \(round) capacity \(capacity) step \(step)"
                let roll = Int.random(in: 0..<1000, using: &generator)
                if roll < 8 {
                    var drained: [Event] = []
                    _ = ring.drain(into: &drained, timeout: 0, spin: 0)
                    XCTAssertEqual(drained.map { ident($0) }, model.map(\.name), here)
                    model.removeAll()
                } else if roll < 14 {
                    let newCapacity = Int.random(in: 1...max(2, capacity * 2), using: &generator)
                    let lost = ring.resize(to: newCapacity, policy: policy).map { ident($0) }
                    var expected: [String] = []
                    if policy == .drop { while model.count > newCapacity { expected.append(model.remove(at: victim()).name) } }
                    XCTAssertEqual(lost, expected, here)
                    capacity = newCapacity
                    maxCapacity = max(maxCapacity, capacity)
                } else if roll < 16 {
                    policy = policy == .drop ? .wait : .drop
                    let lost = ring.resize(to: capacity, policy: policy).map { ident($0) }
                    var expected: [String] = []
                    if policy == .drop { while model.count > capacity { expected.append(model.remove(at: victim()).name) } }
                    XCTAssertEqual(lost, expected, here + " (to \(policy))")
                } else {
                    let n = Int.random(in: 1...4, using: &generator)
                    var batch: [Event?] = []
                    var added: [M] = []
                    for i in 0..<n {
                        let r = Int.random(in: 0..<100, using: &generator)
                        var kind: EventKind = r < 70 ? .receive : r < 80 ? .error : r < 92 ? .connect : .clientClose
                        // "wait" mode: the I/O thread queues messages only with room.
                        if policy == .wait && kind == .receive && model.count + added.count >= capacity { kind = .connect }
                        let ofServer = kind == .error && r % 2 == 0
                        let name = "\(step).\(i)"
                        let size = kind == .receive ? name.utf8.count : 0
                        batch.append(kind == .receive
                            ? Event(.receive, source: source, payload: ByteBlock(Array(name.utf8)))
                            : Event(kind, source: ofServer ? server : source, message: name))
                        added.append((kind, name, ofServer, size))
                    }
                    let lost = ring.push(contentsOf: &batch).dropped
                    var expected: [M] = []
                    for m in added {  // the least costly goes, the event arriving included
                        model.append(m)
                        if policy == .drop && model.count > capacity { expected.append(model.remove(at: victim())) }
                    }
                    XCTAssertEqual(lost.count, expected.count, here)
                    XCTAssertEqual(lost.map { ident($0) }, expected.map(\.name), here)
                    XCTAssertEqual(lost.map { $0.payload.count }, expected.map(\.size), here)
                }
                maxCount = max(maxCount, model.count)
                XCTAssertEqual(ring.queued, model.count, here)
                XCTAssertEqual(ring.queuedBytes, model.reduce(0) { $0 + $1.size }, here)
                checkInvariants(ring, maxSlots: &maxSlots, here)
            }
            XCTAssertLessThanOrEqual(maxSlots, max(64, 4 * max(maxCapacity, maxCount)) + 64, "round \(round)")
            ring.close()
            XCTAssertEqual(ring.queued, 0)
            XCTAssertEqual(ring.queuedBytes, 0)
        }
    }

    func testFloodBehindStateEventsKeepsSlotsBounded() {
        for capacity in [10, 100, 2000] {
            let ring = EventRing(capacity: capacity, byteLimit: 1 << 40)
            var batch: [Event?] = (0..<(capacity * 9 / 10)).map { _ in Event(.connect, source: source, message: "c") }
            _ = ring.push(contentsOf: &batch)
            var maxSlots = 0
            for _ in 0..<(capacity * 50) {
                var one: [Event?] = [Event(.receive, source: source, payload: ByteBlock([1]))]
                _ = ring.push(contentsOf: &one)
                let slots: [Event?] = field(ring, "slots")
                maxSlots = max(maxSlots, slots.count)
            }
            print("capacity \(capacity): max slots \(maxSlots)")
            XCTAssertLessThanOrEqual(maxSlots, 4 * capacity + 64)
        }
    }
}
