// What one Lua state shares with the I/O thread: its event ring and its settings.
//
// Thread: both. `settings` is guarded by a lock (written by the Lua thread only, which reads
// it without); `events` has its own; `sentSinceDrain` and `drains` are the Lua thread's alone.
import CSystemShim

/// The per-Lua-state side of mmnet that the core knows about (the core never sees Lua itself).
public final class ScriptContext: @unchecked Sendable {
    /// The events waiting for this state's `PollEvents`.
    public let events: EventRing
    /// The I/O thread serving this state.
    public let io: IOThread
    /// Large buffers kept for this state's next large message, in or out.
    public let buffers = BufferPool()
    /// The large strings this state's script lent to its send queues.
    public let loans = LoanBook()
    /// The TLS contexts of this state's encrypted clients, one per key (Lua thread).
    public let clientTLSContexts = TLSContextCache()
    /// The script sent a message since it last drained the events (Lua thread only): its next
    /// wait may be for the reply, the one kind of wait worth spinning for (`SpinWait`).
    var sentSinceDrain = false
    /// How many times the script has drained the events (Lua thread only): a connection that
    /// notes it at each send knows whether a send is its first since the script's last poll.
    var drains: UInt64 = 0

    private let lock = Lock()
    private var current = Settings()
    private var openConnections = 0
    private var refusedMessages = 0

    /// Creates the context of a newly opened Lua state, served by `io`.
    public init(io: IOThread) {
        self.io = io
        self.generation = io.generation
        self.events = EventRing(capacity: Defaults.eventQueueSize)
    }

    /// True in the child of a fork() made after this context opened: it is the parent's, and
    /// the child must not touch its sockets, locks or thread (`IOThread.isInherited`). Reads
    /// no reference (a Lua error may unwind the caller right after).
    public var isInherited: Bool { generation != mmnet_fork_generation() }
    /// The fork generation of its I/O thread.
    let generation: UInt64

    /// The settings in force (any thread).
    public var settings: Settings { lock.withLock { current } }

    /// The settings in force, read on the Lua thread: the one thread that changes them
    /// (`configure`), so it reads them without the lock (`Send` does, once per message).
    public var scriptSettings: Settings { current }

    /// Replaces the settings (Lua thread) after checking them; returns the problem if any.
    public func configure(_ settings: Settings) -> String? {
        if let problem = settings.problem() { return problem }
        let old: Settings = lock.withLock {
            defer { current = settings }
            return current
        }
        if old.eventQueueSize != settings.eventQueueSize || old.queueFull != settings.queueFull {
            io.handleDropped(events.resize(to: settings.eventQueueSize, policy: settings.queueFull))
        }
        if old.eventQueueBytes != settings.eventQueueBytes {
            events.setByteLimit(settings.eventQueueBytes)
        }
        // More room: reading paused for want of it goes on now, not at the next poll.
        if old.queueFull == .wait && settings.queueFull == .drop || settings.eventQueueSize > old.eventQueueSize
            || settings.eventQueueBytes > old.eventQueueBytes {
            io.submit(.resume(self))
        }
        return nil
    }

    /// Takes the queued events (Lua thread), waiting up to `timeout` seconds for one when none
    /// is queued, and lets the I/O thread read again if the ring had refused events.
    /// Returns the events dropped by overflow since the last call. A wait ends early, taking
    /// nothing, once `interrupted` holds (`EventRing.drain`).
    public func drainEvents(into events: inout [Event], timeout: Double,
                            interrupted: () -> Bool = { false }) -> EventLosses {
        // A script that only receives (a stream) never spins: its spinning would take the CPU
        // from the threads that bring it the stream.
        let spin = sentSinceDrain ? settings.spinWait : 0
        sentSinceDrain = false
        drains &+= 1
        let (lost, resume) = self.events.drain(into: &events, timeout: timeout, spin: spin, interrupted: interrupted)
        if resume { io.submit(.resume(self)) }
        return lost
    }

    /// The state's totals for `network.GetStats()`.
    public struct Totals: Sendable {
        /// Connections open now (clients and accepted).
        public var connections: Int
        /// Events waiting in the ring.
        public var eventsQueued: Int
        /// Bytes of the message bodies waiting in the ring.
        public var eventBytesQueued: Int
        /// Events dropped by overflow since the state opened mmnet.
        public var eventsDropped: Int
        /// Incoming messages refused as malformed or oversized.
        public var messagesRefused: Int
    }

    /// The totals now (any thread).
    public var totals: Totals {
        let (open, refused) = lock.withLock { (openConnections, refusedMessages) }
        return Totals(connections: open, eventsQueued: events.queued, eventBytesQueued: events.queuedBytes,
                      eventsDropped: events.totalLost, messagesRefused: refused)
    }

    /// Counts a connection that opened (+1) or closed after being open (-1) (I/O thread).
    func countConnection(_ delta: Int) {
        lock.withLock { openConnections += delta }
    }

    /// Counts an incoming message refused as malformed or oversized (any thread: the I/O thread,
    /// or the Lua thread for a message it cannot decode).
    func countRefusedMessage() {
        lock.withLock { refusedMessages += 1 }
    }

    /// The Lua state is closing (Lua thread): drops its queued events, and has the I/O thread
    /// close every socket of the state (flushing what was sent) and forget it. Returns once
    /// no send queue reads a string of the state any more (the I/O thread copies those still
    /// queued): Lua frees them all next.
    public func close() {
        events.close()
        io.submit(.closeContext(self))
        loans.waitUntilRecalled()
    }
}
