// The event queue of one Lua state: a mutex-guarded ring buffer of `Event`s
// (capacity `EventQueueSize`, 2000 by default, as the user's document says).
//
// Thread: both, under the ring's lock. The I/O thread pushes; the Lua thread drains and waits.

import Glibc

/// A bounded FIFO of events between the I/O thread and one Lua state.
///
/// When full, `QueueFullPolicy.drop` drops the oldest message, the one arriving included (else
/// the oldest error of a server, else the oldest event, when only connect, close and error
/// events are queued and arrive) and counts it (reported to the script by the binding); in
/// `.wait` mode the I/O thread stops reading instead, until the script drains the queue
/// (`room(for:)`, `holdBack(over:)`). The ring holds the mode itself (`resize(to:policy:)`), so
/// that every push after a `Configure` obeys it: a batch read in "drop" mode and pushed after a
/// switch to "wait" dropped messages. In both modes it also stops reading while the message
/// bodies queued reach the byte limit (`EventQueueBytes`): a busy script holds that much at
/// most (and one message more), however fast its peers send.
public final class EventRing: @unchecked Sendable {
    /// Guards everything below; `condition` waits on it.
    private let lock = Lock()
    private let condition: Condition
    /// The events, oldest first from `head`, over `used` slots: a message or a server's error
    /// dropped from the middle leaves a hole (nil) there instead of moving every older event
    /// up a slot, which made each drop behind 2,000 queued connects cost 130 us of the I/O
    /// thread (6,600 drops a second for the whole process, against 470,000 behind none).
    private var slots: [Event?]
    private var head = 0
    /// Slots in use from `head`, holes included.
    private var used = 0
    /// Events queued (holes not counted).
    private var count = 0
    /// No message (`scanFrom`) or server error (`errorScanFrom`) is queued in the slots before
    /// these offsets from `head`: a drop's search starts there, so dropping behind a long run
    /// of state events costs that run once, not at every drop.
    private var scanFrom = 0
    private var errorScanFrom = 0
    private var capacity: Int
    /// What a full ring does (`QueueFull`).
    private var policy: QueueFullPolicy
    /// Bytes of the message bodies queued, and the most before reading stops.
    private var bytes = 0
    private var byteLimit: Int
    private var waiters = 0
    /// Events dropped since the last drain, and when the first of them was.
    private var lostSinceReport = EventLosses()
    private var lostTotal = 0
    private var refusedSinceDrain = false
    /// Drains so far, and the connections that queued messages since the last one (or are
    /// about to, resumed): each may take its share of the ring (`FairShare`).
    private var drains = 0
    private var senders = 0
    private var closed = false
    /// The last wait for an event ended within twice its spin time: the next one spins first.
    private var lastWaitWasShort = true
    /// The spin time of the script's wait under way when it spun first (0 otherwise): it waits
    /// for a reply, so the I/O thread, delivering it, keeps polling a while for the next one.
    private var replySpin = 0.0
    /// The eventfd readable while events wait (-1 until a host asks for it).
    private var notifyFD: Int32 = -1

    /// Slots a ring starts with: it doubles them as events come, up to its capacity (in
    /// "wait" mode, past it), so that a large EventQueueSize costs memory only once used (10
    /// million slots made at once took 700 MB and 0.8 s).
    static let initialSlots = 64

    /// Seconds between a long wait's checks for an interrupt (`drain`): Ctrl-C ends a wait
    /// within this, at the cost of that many wake-ups a second of an idle script.
    static let interruptCheck = 0.25

    /// Creates an empty ring holding up to `capacity` events and `byteLimit` bytes of bodies,
    /// doing what `policy` says when full.
    public init(capacity: Int, byteLimit: Int = Defaults.eventQueueBytes, policy: QueueFullPolicy = .drop) {
        self.capacity = capacity
        self.policy = policy
        self.byteLimit = byteLimit
        self.slots = Array(repeating: nil, count: min(capacity, EventRing.initialSlots))
        self.condition = Condition(lock: lock)
    }

    /// Adds events in one go (I/O thread), moving them out of `batch` (which is left holding
    /// nils: no event is copied, so no reference is counted up and down again). When the ring
    /// is full, `.drop` mode drops the least costly events (`removeLeastCostly`: the oldest
    /// messages, those of the batch included) to make room and returns them (counted as
    /// lost); `.wait` mode lets the ring grow past its capacity: the I/O thread checks
    /// `room(for:)` before queuing messages, so only state changes
    /// (connect, close, error) and each connection's first message of a drain while others
    /// send too ever do that, a few slots at most, and a read parsed in "drop" mode just
    /// before a switch to "wait" (its bodies still bounded by `EventQueueBytes`). `admit` runs
    /// under the ring's lock first. It makes the change of state that goes with the events,
    /// which the Lua thread must never see without them (`wait(until:for:)` checks under this
    /// lock), and says whether they may be queued at all: when it returns false the batch is
    /// not queued (it stays in `batch`), so that a script's call that forbids them (a
    /// `Disconnect`) and the push are ordered: the events are queued before the call, or not
    /// at all. It must not take the ring's lock. Messages of one connection count in its
    /// `share` (`room(for:)`). Also returns the spin time of the script's wait when it is
    /// waiting for a reply (`drain`), else 0.
    public func push(contentsOf batch: inout [Event?], share: UnsafeMutablePointer<FairShare>? = nil,
                     admit: () -> Bool = { true }) -> (dropped: [Event], replySpin: Double) {
        let (dropped, wake, spin) = lock.withLock { () -> ([Event], Bool, Double) in
            if closed || !admit() { return ([], false, 0) }
            if let share { joinLocked(&share.pointee) }
            var dropped: [Event] = []
            var pushed = 0, pushedBytes = 0, droppedOnArrival = 0
            let wasEmpty = count == 0
            for index in batch.indices {
                guard let event = batch[index].take() else { continue }
                if count >= capacity && policy == .drop {
                    guard let victim = dropLeastCostly(incoming: event) else {
                        // It costs least itself: not queued, yet counted in its connection's
                        // share as a queued message is, or a sender beside others would never
                        // be held to its share while only state events are queued, and every
                        // message of it would be dropped (100 of 100, against 1 held to it).
                        dropped.append(event)
                        droppedOnArrival += 1
                        continue
                    }
                    dropped.append(victim)
                }
                if used == slots.count {
                    // Full of slots: compact the holes away, and double too unless they were
                    // half the slots (each compaction then frees as many slots as it moves).
                    relayout(slotCount: (used - count) * 2 >= slots.count ? slots.count : slots.count * 2)
                }
                bytes += event.payload.count
                pushed += 1
                pushedBytes += event.payload.count
                slots[slot(used)] = event
                used += 1
                count += 1
            }
            // Once per batch: the connection is read by the Lua thread as it builds each event.
            if let share {
                share.pointee.events += pushed + droppedOnArrival
                share.pointee.bytes += pushedBytes
            }
            // Empty before (comparing `count` with the events pushed missed a batch larger than
            // the capacity, which dropped some of its own in "drop" mode).
            if wasEmpty && count > 0 && notifyFD >= 0 { Posix.signal(eventfd: notifyFD) }
            return (dropped, waiters > 0, replySpin)
        }
        // Woken after the lock is released, so the waiter does not wake only to block on it.
        // (A waiter checks `count` under the lock before it sleeps: no wake-up is lost.)
        if wake { condition.broadcast() }
        return (dropped, spin)
    }

    /// What the ring takes from the connection whose part is `share` before the I/O thread
    /// must stop reading it (I/O thread): how many more events (in "wait" mode; unlimited in
    /// "drop" mode, which drops the oldest instead) and how many more bytes of message bodies;
    /// while others queued messages since the last drain too, no more than its fair share
    /// (`FairShare`) less what it queued since (`roomLocked(for:)`). A message is queued while
    /// both are above 0, so the last one may go past the byte limit (a message larger than the
    /// limit still gets in). A fresh `FairShare()` asks for a connection that queued nothing.
    public func room(for share: FairShare) -> (events: Int, bytes: Int) {
        lock.withLock { roomLocked(for: share) }
    }

    /// When the connection whose part is `share` has no room left (`room(for:)`), records
    /// that the I/O thread holds messages back (the next drain asks it to resume reading) and
    /// returns true; false when it has room (the script drained the ring meanwhile).
    public func holdBack(over share: FairShare) -> Bool {
        lock.withLock {
            let room = roomLocked(for: share)
            guard room.events <= 0 || room.bytes <= 0 else { return false }
            refusedSinceDrain = true
            return true
        }
    }

    /// Counts the connection whose part is `share` among those that queue messages before the
    /// next drain, at once (I/O thread): a paused connection about to resume, so that the first
    /// one served cannot take the whole ring again.
    public func join(_ share: inout FairShare) {
        lock.withLock { joinLocked(&share) }
    }

    /// When the ring is full by `roomLocked`'s measure, counting `pending` events on their way (the
    /// connects of connections still in their hello), records that the I/O thread holds
    /// messages back (so that the next drain asks it to resume reading) and returns true;
    /// returns false when there is room (the script drained it meanwhile). I/O thread.
    public func holdBackIfFull(pending: Int = 0) -> Bool {
        lock.withLock {
            let room = roomLocked()
            guard room.events - pending <= 0 || room.bytes <= 0 else { return false }
            refusedSinceDrain = true
            return true
        }
    }

    /// Takes every queued event into `events` (Lua thread), first waiting up to `timeout`
    /// seconds for one to arrive when the ring is empty. Returns how many events were dropped
    /// since the last drain, and whether the I/O thread was refused and must resume reading.
    ///
    /// A wait first spins for up to `spin` seconds (checking, yielding the CPU in between)
    /// when the previous wait was short, as in a request-reply exchange: an event arriving
    /// meanwhile costs no sleep and no wake-up, which on these machines take tens of
    /// microseconds. When events are further apart, waits are long and it does not spin.
    /// The caller passes 0 when the script is not waiting for a reply (`ScriptContext`).
    /// Until a wait that spun ends, `push` tells the I/O thread to keep polling after it
    /// delivers (`IOThread.pollForReplies`). A long wait checks `interrupted` (under the
    /// lock) every `interruptCheck` seconds and ends early once it holds, taking no events
    /// (the next drain takes them, and the losses and hold-backs to report): the script has an
    /// interrupt to handle (lua5.4's Ctrl-C waited out a `PollEvents(3600)`).
    public func drain(into events: inout [Event], timeout: Double, spin: Double,
                      interrupted: () -> Bool = { false }) -> (lost: EventLosses, resume: Bool) {
        let start = timeout > 0 ? Clock.monotonic() : 0
        if timeout > 0 && spin > 0 && lock.withLock({ startSpinning(spin) }) {
            let spinEnd = start + min(spin, timeout)
            while lock.withLock({ count == 0 }) && Clock.monotonic() < spinEnd { sched_yield() }
        }
        return lock.withLock {
            if count == 0 && timeout > 0 {
                let deadline = start + timeout
                waiters += 1
                while count == 0 && Clock.monotonic() < deadline {
                    condition.wait(until: min(deadline, Clock.monotonic() + EventRing.interruptCheck))
                    if interrupted() { break }
                }
                waiters -= 1
                lastWaitWasShort = count > 0 && Clock.monotonic() - start <= 2 * spin
                if interrupted() {  // nothing taken: the script may never see this call's result
                    replySpin = 0
                    return (EventLosses(), false)
                }
            }
            replySpin = 0
            events.reserveCapacity(events.count + count)
            takeAll { events.append($0) }
            if notifyFD >= 0 { Posix.drain(eventfd: notifyFD) }
            let lost = lostSinceReport
            lostSinceReport = EventLosses()
            let resume = refusedSinceDrain
            refusedSinceDrain = false
            return (lost, resume)
        }
    }

    /// Whether a wait for `spin` seconds should spin first (nothing queued, and the last wait
    /// was short); if so, notes it for `push`. Under the lock.
    private func startSpinning(_ spin: Double) -> Bool {
        guard count == 0 && lastWaitWasShort else { return false }
        replySpin = spin
        return true
    }

    /// Waits (Lua thread) until `done()` holds or the monotonic clock passes `deadline`;
    /// `done` is evaluated under the lock and re-evaluated after every push. Ends early,
    /// returning false, once `interrupted` holds (checked every `interruptCheck` seconds, as
    /// `drain` does).
    public func wait(until deadline: Double, interrupted: () -> Bool = { false },
                     for done: () -> Bool) -> Bool {
        lock.withLock {
            waiters += 1
            defer { waiters -= 1 }
            while !done() {
                let now = Clock.monotonic()
                if now >= deadline || interrupted() { return false }
                condition.wait(until: min(deadline, now + EventRing.interruptCheck))
            }
            return true
        }
    }

    /// Wakes the waiters so they re-check their condition (after a state change without an event).
    public func poke() {
        lock.withLock { if waiters > 0 { condition.broadcast() } }
    }

    /// Changes the byte limit (`EventQueueBytes`); a larger one lets reading resume at the next
    /// drain, a smaller one stops it once the bodies queued reach it (nothing is dropped).
    public func setByteLimit(_ limit: Int) {
        lock.withLock { byteLimit = limit }
    }

    /// Changes the capacity and what a full ring does. With more events queued than the new
    /// capacity (it shrank, or "wait" mode had let the ring grow past it), `.drop` mode drops
    /// the least costly (`removeLeastCostly`, as a push does) and counts them; `.wait` mode
    /// keeps them all, and the I/O thread reads no more until the script has drained them.
    /// Returns the dropped events.
    public func resize(to newCapacity: Int, policy: QueueFullPolicy) -> [Event] {
        lock.withLock {
            self.policy = policy
            var dropped: [Event] = []
            while count > newCapacity && policy == .drop, let victim = dropLeastCostly(incoming: nil) {
                dropped.append(victim)
            }
            relayout(slotCount: max(min(newCapacity, slots.count), count, 1))
            capacity = newCapacity
            return dropped
        }
    }

    /// A descriptor that is readable while events wait, for a host's own poll loop (made on the
    /// first call; the same one afterwards). `drain` makes it unreadable again.
    public func descriptor() throws -> Int32 {
        try lock.withLock {
            if notifyFD < 0 {
                notifyFD = try Posix.eventfd(forHost: true)
                if count > 0 { Posix.signal(eventfd: notifyFD) }
            }
            return notifyFD
        }
    }

    /// The descriptor `descriptor()` made, read without the lock: for the child of a fork()
    /// only (its one thread; the lock may have been held by a thread it does not have), where
    /// the number now holds a fresh eventfd for the child's own ring (`adopt(descriptor:)`).
    public var inheritedDescriptor: Int32 { notifyFD }

    /// Takes `fd`, an eventfd of mmnet's, as the descriptor `descriptor()` returns: in the child
    /// of a fork(), the host keeps the number it was given.
    public func adopt(descriptor fd: Int32) {
        lock.withLock {
            notifyFD = fd
            if count > 0 { Posix.signal(eventfd: fd) }
        }
    }

    /// Sets the descriptor after a PollEvents that took its events from those it drained
    /// earlier (Lua thread): readable while `pending` (some of them still wait for the script's
    /// next call) or while the ring holds events, unreadable otherwise. A host sleeping on the
    /// descriptor must wake for events that PollEvents kept back (a state short of memory).
    public func notifyPending(_ pending: Bool) {
        lock.withLock {
            guard notifyFD >= 0 else { return }
            if pending || count > 0 { Posix.signal(eventfd: notifyFD) } else { Posix.drain(eventfd: notifyFD) }
        }
    }

    /// Events queued now.
    public var queued: Int { lock.withLock { count } }

    /// Bytes of the message bodies queued now.
    public var queuedBytes: Int { lock.withLock { bytes } }

    /// Events dropped by overflow since the ring was made.
    public var totalLost: Int { lock.withLock { lostTotal } }

    /// Counts `count` events lost after they left the ring (Lua thread): those of connections
    /// whose EVENT_CONNECT overflowed, which no script can hold. The binding reports them in
    /// its overflow event; `totalLost` counts them too.
    public func countLost(_ count: Int) {
        lock.withLock { lostTotal += count }
    }

    /// Empties the ring for good (the Lua state is closing); later pushes are discarded.
    public func close() {
        lock.withLock {
            closed = true
            takeAll { _ in }
            if notifyFD >= 0 {
                Posix.close(notifyFD)
                notifyFD = -1
            }
        }
    }

    /// The room of the whole ring, under the lock: events ("wait" mode; unlimited in "drop"
    /// mode) and bytes of bodies.
    private func roomLocked() -> (events: Int, bytes: Int) {
        (policy == .wait ? max(0, capacity - count) : .max, byteLimit - bytes)
    }

    /// `room(for:)`, under the lock. Shared, the ring's free slots bound every share in both
    /// modes: the shares of the connections that came first, counted with fewer senders, add
    /// up past the capacity (C/1 + C/2 + C/3 + C/4 > 2C), and in "drop" mode the excess
    /// dropped the messages of connections within their share (found by a review of this
    /// code). Except a connection's first message of the drain, which gets in whatever (in
    /// "wait" mode past the capacity, by one per connection; in "drop" mode dropping the
    /// oldest message), so that none waits for ever behind the others: ten peers sending into
    /// four slots got 8 to 99,899 messages each in 3 s, in the order the resume served them.
    private func roomLocked(for share: FairShare) -> (events: Int, bytes: Int) {
        let room = roomLocked()
        let current = share.drain == drains
        let sharing = senders + (current ? 0 : 1)  // this connection among them
        guard sharing > 1 else { return room }
        let queued = current ? share.events : 0
        let free = policy == .drop ? capacity - count : room.events
        return (min(queued == 0 ? max(1, free) : free, max(1, capacity / sharing) - queued),
                min(room.bytes, max(1, byteLimit / sharing) - (current ? share.bytes : 0)))
    }

    /// Starts `share` afresh after a drain, counting its connection among the senders.
    private func joinLocked(_ share: inout FairShare) {
        guard share.drain != drains else { return }
        share = FairShare(drain: drains)
        senders += 1
    }

    /// Drops the event whose loss costs least (`removeLeastCostly`) and counts it lost: a
    /// queued one, returned, or `incoming` itself (nil returned; the caller does not queue it).
    private func dropLeastCostly(incoming: Event?) -> Event? {
        // The clock is read for the first loss only: a flood drops one event per message.
        let first = lostSinceReport.count == 0 ? Clock.wall() : lostSinceReport.since
        lostSinceReport.add(EventLosses(count: 1, since: first))
        lostTotal += 1
        return removeLeastCostly(incoming: incoming)
    }

    /// Removes, for `.drop` mode, the event whose loss costs least, `incoming` (the event about
    /// to be queued, newer than any) included: the oldest message (`EVENT_RECEIVE`); else the
    /// oldest error of a server (about a peer that never became a connection: a failed hello,
    /// say); else the oldest event. Returns nil when that is `incoming`. The events queued
    /// before it keep their order. Neither one peer's flood of messages nor a churn of bad
    /// hellos may cost another peer its EVENT_CONNECT, and so its connection
    /// (`IOThread.handleDropped`): a message arriving while only state events are queued is
    /// the one dropped.
    private func removeLeastCostly(incoming: Event?) -> Event? {
        while scanFrom < used {
            let offset = scanFrom
            scanFrom += 1  // before the take, whose trimming of holes shifts it with the rest
            if slots[slot(offset)]?.kind == .receive { return takeEvent(at: offset) }
        }
        if let incoming, incoming.kind == .receive { return nil }
        while errorScanFrom < used {
            let offset = errorScanFrom
            errorScanFrom += 1
            if let event = slots[slot(offset)], EventRing.isServerError(event) { return takeEvent(at: offset) }
        }
        if let incoming, EventRing.isServerError(incoming) { return nil }
        trimHoles()
        return takeEvent(at: 0)
    }

    /// Whether `event` is a server's error, about a peer that never became a connection.
    private static func isServerError(_ event: Event) -> Bool {
        event.kind == .error && event.source is Listener
    }

    /// The slot of the event `offset` places from the oldest (`offset` < `slots.count`).
    private func slot(_ offset: Int) -> Int {
        let index = head + offset
        return index < slots.count ? index : index - slots.count
    }

    /// Takes the event `offset` places from the oldest, leaving a hole in its slot.
    private func takeEvent(at offset: Int) -> Event {
        let event = slots[slot(offset)].take()!
        count -= 1
        bytes -= event.payload.count
        trimHoles()
        return event
    }

    /// Moves `head` past the holes at the front (the search offsets follow it).
    private func trimHoles() {
        while used > 0 && slots[head] == nil {
            head = slot(1)
            used -= 1
            scanFrom = max(0, scanFrom - 1)
            errorScanFrom = max(0, errorScanFrom - 1)
        }
    }

    /// Takes every event, oldest first, into `body`, and leaves the ring empty.
    private func takeAll(_ body: (Event) -> Void) {
        drains &+= 1
        senders = 0
        for offset in 0..<used {
            if let event = slots[slot(offset)].take() { body(event) }
        }
        head = 0
        used = 0
        count = 0
        bytes = 0
        scanFrom = 0
        errorScanFrom = 0
    }

    /// Moves the queued events, oldest first, to the start of a new slot array of `slotCount`.
    /// The holes are left out; the search offsets start again from the oldest.
    private func relayout(slotCount: Int) {
        var fresh = [Event?](repeating: nil, count: slotCount)
        var next = 0
        for offset in 0..<used {
            guard let event = slots[slot(offset)].take() else { continue }
            fresh[next] = event
            next += 1
        }
        slots = fresh
        head = 0
        used = count
        scanFrom = 0
        errorScanFrom = 0
    }
}

/// Events lost to overflow and not reported yet: how many, and when the first of them was.
public struct EventLosses: Sendable, Equatable {
    /// How many events were lost.
    public private(set) var count = 0
    /// When the first of them was lost, in seconds since the Unix epoch (`Clock.wall`); 0
    /// when none was. The overflow report's `.Timestamp`: when the queue began to overflow.
    public private(set) var since = 0.0

    /// No losses.
    public init() {}

    /// `count` losses, the first at `since`.
    public init(count: Int, since: Double) {
        self.count = count
        self.since = count > 0 ? since : 0
    }

    /// Adds `other`'s losses, keeping the earlier first one.
    public mutating func add(_ other: EventLosses) {
        guard other.count > 0 else { return }
        since = count > 0 ? min(since, other.since) : other.since
        count += other.count
    }
}
