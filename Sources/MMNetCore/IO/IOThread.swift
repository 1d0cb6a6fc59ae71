// The I/O thread: one per process, built on poll(2), owning every socket of every Lua state.
// This file holds its life (started by the first Lua state, joined by the last, or at the
// process's exit: `IOThread+Exit.swift`), its command queue, and the poll loop. What it does
// with each kind of socket is in the other `IOThread+*` files.
//
// Thread: `acquire` and `release` run on Lua threads, `stopAndJoin` on a Lua thread or the one
// calling exit(), `submit` and `handleDropped` on any thread (the I/O thread's own sends and
// closes submit too); everything else on the I/O thread.
import CSystemShim
import Glibc
import Synchronization

/// The background thread that accepts, connects, reads and writes for every Lua state.
public final class IOThread: @unchecked Sendable {
    /// Work handed to the I/O thread by Lua threads.
    enum Command {
        /// Start accepting on a listener.
        case listen(Listener)
        /// Stop accepting; close the listener's connections still in their hello.
        case unlisten(Listener)
        /// Take over a client connection whose connect has started.
        case connect(Connection)
        /// Write a connection's queued bytes.
        case flush(Connection)
        /// Write a connection's queued bytes `coalesceTime` from now: a burst of small sends
        /// goes on meanwhile, and goes out in one write.
        case flushSoon(Connection)
        /// Close a connection gracefully (its phase is `.closing` already).
        case close(Connection)
        /// Close a connection at once with a reset (its phase is `.closing` already).
        case reset(Connection, reason: String)
        /// A queued message failed to decode under limits lowered since it was checked: close
        /// the connection with its close event, as for a malformed message read now (the
        /// script got the EVENT_ERROR already).
        case refuse(Connection, reason: String)
        /// A state's event ring has room again: read its paused connections.
        case resume(ScriptContext)
        /// A Lua state closed: close its sockets and forget it.
        case closeContext(ScriptContext)
        /// The last Lua state is gone: finish closing and exit.
        case stop
        /// The process is exiting with Lua states still open (`finishAtExit`): close every
        /// socket as their states' close would (flushing what was sent), then exit.
        case exit
    }

    /// Seconds a closing connection waits for its peer without progress: to take what is still
    /// queued (a peer whose script is busy with QueueFull = "wait" may not read for a while),
    /// then for its end of stream.
    static let lingerTime = 10.0
    /// Seconds the stopping thread waits for closing connections without progress (it holds up
    /// the lua_close of the last Lua state).
    static let stopTime = 5.0
    /// Seconds the stopping thread waits at most, progress or not (it holds up lua_close).
    static let stopLimit = 30.0
    /// Seconds a burst of small sends gathers before it is written (`flushSoon`).
    static let coalesceTime = 100e-6
    /// Seconds the thread waits before polling again after poll(2) failed.
    static let pollRetryDelay = 0.01

    /// The process's I/O thread while a Lua state uses it (under the global lock).
    nonisolated(unsafe) static var instance: IOThread?
    nonisolated(unsafe) private static var users = 0
    /// The I/O threads of the processes this one was forked from (in a child): never stopped,
    /// joined or freed, since their thread is not in this process and their locks may be held
    /// for ever; kept here so that nothing releases them.
    nonisolated(unsafe) private static var inherited: [IOThread] = []

    /// The fork generation this thread was started in (`mmnet_fork_generation`).
    public let generation = mmnet_fork_generation()

    /// The eventfd in the poll set that `submit` (and a fork's park) signals to wake the thread.
    let wakeFD: Int32
    private let commandLock = Lock()
    private var commands: [Command] = []
    private var thread = pthread_t()
    /// A thread has undertaken to stop and join this one (`stopAndJoin`); under `commandLock`.
    private var joinClaimed = false

    // I/O thread only.
    /// The descriptors poll(2) waits on: the wake-up eventfd, listeners and connections.
    var pollSet = PollSet()
    /// Every connection the thread serves, by id, until `finish` forgets it.
    var connections: [Int64: Connection] = [:]
    /// Every listener the thread accepts on, by id, until `stopListening`.
    var listeners: [Int64: Listener] = [:]
    /// Connections with a finite deadline (hello or closing linger).
    var timed: [Int64: Connection] = [:]
    /// Listeners whose accepting is paused for lack of descriptors.
    var pausedListeners: [Int64: Listener] = [:]
    /// The events array `processInput` batches messages in, kept empty between calls so that
    /// its capacity is not grown again for every read.
    var batchStorage: [Event?] = []
    /// The CPU was handed to the scripts once since the last poll(2) (`deliver`).
    var yieldedSincePoll = false
    /// When the thread polls without sleeping: it delivered a message to a script waiting for
    /// a reply, whose next one is likely to come soon (`pollForReplies`).
    var replyPolling = ReplyPolling()
    /// Connections to flush once their time comes (`flushSoon`), soonest first.
    private var soonFlushes: [(connection: Connection, due: Double)] = []
    /// When the next liveness sweep is due (monotonic seconds).
    var nextSweep = 0.0
    /// When this turn's poll(2) returned (monotonic seconds). Silences and deadlines are judged
    /// as of then, for what the poll saw is all the thread knows of its sockets. Judged as of
    /// the end of the turn, a thread stopped after its poll (a debugger, SIGSTOP) or held up by
    /// a long turn (checking a 16 MiB message of 16 million nils took 0.2 to 0.4 s) timed out
    /// live peers whose bytes had come meanwhile, reset them and dropped what they had sent (a
    /// game client woken from a stop, 2 runs of 2). The next turn polls again, without waiting
    /// when a deadline is past.
    var polledAt = 0.0
    /// Seconds between the last two liveness sweeps (`sweepLiveness`).
    var sweepStep = Defaults.livenessSweep
    private var stopping = false
    private var stopDeadline = Double.infinity
    private var stopLimitDeadline = Double.infinity

    // Parking for a fork (`IOThread+Fork.swift`): any thread, under `parkLock`.
    /// Guards `parked` and the waits on `parkCondition`.
    let parkLock = Lock()
    /// Signalled when the thread parks and when the fork lets it go on.
    let parkCondition: Condition
    /// A thread about to fork asks the I/O thread to stop (`parkForFork`); set under
    /// `parkLock`, read without it first by the I/O thread at every turn of its loop.
    let parkRequested = Atomic<Bool>(false)
    /// The I/O thread has stopped and waits for `parkRequested` to go.
    var parked = false

    private init() throws {
        wakeFD = try Posix.eventfd()
        parkCondition = Condition(lock: parkLock)
    }

    /// True in the child of a fork() made after this thread started: the thread, its sockets
    /// and its states are the parent's (the child closed its copies of the descriptors).
    /// Any thread; costs a load and a compare.
    public var isInherited: Bool { generation != mmnet_fork_generation() }

    /// The process's I/O thread, started if no Lua state uses it yet (Lua thread, at luaopen,
    /// or at a state's first call after a fork). Every call must be balanced by one `release`.
    public static func acquire() throws -> IOThread {
        watchForks()
        mmnet_global_lock()
        defer { mmnet_global_unlock() }
        if let parents = instance, parents.isInherited {
            // A child of fork(): the states that used the parent's thread leave it alone
            // (`ScriptContext.isInherited`); this process gets a thread of its own.
            inherited.append(parents)
            instance = nil
            users = 0
        }
        if let instance {
            users += 1
            return instance
        }
        let io = try IOThread()
        try io.start()
        watchExit()
        instance = io
        users = 1
        return io
    }

    /// Gives up one use (Lua thread, when a Lua state closes); the last one stops the thread
    /// and joins it, so no code of the library runs once the state's library is unloaded.
    /// The join (up to `stopLimit` while peers still take what was sent) is made outside the
    /// global lock: a state opened meanwhile on another thread starts a thread of its own at
    /// once instead of waiting for it.
    public static func release() {
        let stopped: IOThread? = {
            mmnet_global_lock()
            defer { mmnet_global_unlock() }
            users -= 1
            guard users == 0, let io = instance else { return nil }
            instance = nil
            return io
        }()
        guard let io = stopped, io.stopAndJoin(.stop) else { return }
        Posix.close(io.wakeFD)
    }

    /// Has the thread exit after `command` (`.stop` or `.exit`) and joins it; returns false,
    /// at once, when another thread has done so or is doing it (a state's close racing the
    /// process's exit): a thread must be joined once.
    func stopAndJoin(_ command: Command) -> Bool {
        let first: Bool = commandLock.withLock {
            defer { joinClaimed = true }
            return !joinClaimed
        }
        guard first else { return false }
        submit(command)
        pthread_join(thread, nil)
        return true
    }

    /// Bytes of stack the thread gets, whatever `RLIMIT_STACK` the host runs under (threads get
    /// that by default: a host started with `ulimit -s 256` would give it 256 KiB). Checking a
    /// message nested `MaxDepth` deep takes 0.5 to 0.7 KiB a level (`MessagePackReader`), up to
    /// 700 KiB at the largest `MaxDepth` (1000); OpenSSL's handshake takes a few dozen KiB. Only
    /// the pages touched are ever used.
    static let stackSize = 4 << 20

    private func start() throws {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        var status = pthread_attr_setstacksize(&attributes, IOThread.stackSize)
        if status != 0 { throw SystemError("pthread_attr_setstacksize", errno: status) }
        let unmanaged = Unmanaged.passRetained(self)
        // The thread takes no asynchronous signal: they stay the host's threads' (a host that
        // blocks SIGTERM to read it from a signalfd must not be killed by it here).
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        status = pthread_create(&thread, &attributes, { arg in
            let io = Unmanaged<IOThread>.fromOpaque(arg!).takeRetainedValue()
            io.run()
            return nil
        }, unmanaged.toOpaque())
        if status != 0 {
            unmanaged.release()
            throw SystemError("pthread_create", errno: status)
        }
    }

    /// Hands work to the I/O thread (any thread) and wakes it if it may be asleep.
    func submit(_ command: Command) {
        let wasEmpty: Bool = commandLock.withLock {
            commands.append(command)
            return commands.count == 1
        }
        if wasEmpty { Posix.signal(eventfd: wakeFD) }
    }

    /// The poll loop.
    private func run() {
        _ = pollSet.add(fd: wakeFD, events: Int16(POLLIN), owner: .wakeup)
        while true {
            parkIfAsked()
            yieldedSincePoll = false
            let now = Clock.monotonic()
            do {
                if try !pollForReplies(now: now) {
                    _ = try pollSet.poll(timeout: pollTimeout(now: now))
                }
            } catch {
                // ENOMEM (the kernel's poll table), or EINVAL (the host lowered RLIMIT_NOFILE
                // below the descriptors polled): the host must not die of it, so the thread
                // waits a moment and polls again, still running commands and deadlines.
                pollSet.forgetReadiness()
                Posix.pause(IOThread.pollRetryDelay)
            }
            polledAt = Clock.monotonic()
            for (owner, revents) in pollSet.ready() {
                switch owner {
                case .wakeup:
                    Posix.drain(eventfd: wakeFD)
                case .listener(let listener):
                    if listener.pollIndex >= 0 { accept(on: listener) }
                case .connection(let connection):
                    if connection.pollIndex >= 0 { serve(connection, revents: revents) }
                }
            }
            runCommands()
            checkDeadlines(now: Clock.monotonic())
            if stopping && (connections.isEmpty || Clock.monotonic() >= stopDeadline) { break }
        }
        for connection in Array(connections.values) { abandon(connection, reason: "library unloaded") }
        for listener in Array(listeners.values) { stopListening(listener) }
    }

    /// Seconds until the nearest deadline, nil for none.
    func pollTimeout(now: Double) -> Double? {
        var nearest = stopping ? stopDeadline : Double.infinity
        for connection in timed.values { nearest = min(nearest, connection.deadline) }
        for listener in pausedListeners.values { nearest = min(nearest, listener.pausedUntil) }
        if !connections.isEmpty { nearest = min(nearest, nextSweep) }
        if let soonest = soonFlushes.first { nearest = min(nearest, soonest.due) }
        if nearest == .infinity { return nil }
        return min(60, nearest - now)
    }

    private func runCommands() {
        let batch: [Command] = commandLock.withLock {
            defer { commands.removeAll(keepingCapacity: true) }
            return commands
        }
        for command in batch {
            switch command {
            case .listen(let listener): startListening(listener)
            case .unlisten(let listener): stopListening(listener)
            case .connect(let connection): adopt(connection)
            case .flush(let connection): flush(connection)
            case .flushSoon(let connection): scheduleSoonFlush(connection)
            case .close(let connection): beginClosing(connection)
            case .reset(let connection, let reason): abandon(connection, reason: reason, reset: true)
            case .refuse(let connection, let reason): fail(connection, reason, asError: false)
            case .resume(let context): resumeReading(context)
            case .closeContext(let context): forget(context)
            case .exit:
                for context in openContexts() { forget(context) }
                fallthrough
            case .stop:
                stopping = true
                stopDeadline = Clock.monotonic() + IOThread.stopTime
                stopLimitDeadline = Clock.monotonic() + IOThread.stopLimit
            }
        }
    }

    /// Flushes `connection` `coalesceTime` from now.
    func scheduleSoonFlush(_ connection: Connection) {
        soonFlushes.append((connection, Clock.monotonic() + IOThread.coalesceTime))
    }

    private func checkDeadlines(now: Double) {
        let due = soonFlushes.prefix { $0.due <= now }.count
        if due > 0 {
            let flushes = soonFlushes.prefix(due)
            soonFlushes.removeFirst(due)
            for entry in flushes { flush(entry.connection) }
        }
        if now >= nextSweep {
            nextSweep = now + sweepLiveness(now: now)
        }
        for connection in timed.values where connection.deadline <= polledAt {
            expire(connection)
        }
        for listener in pausedListeners.values where listener.pausedUntil <= now {
            pausedListeners.removeValue(forKey: listener.id)
            if listener.pollIndex >= 0 { pollSet.setEvents(Int16(POLLIN), at: listener.pollIndex) }
        }
    }

    /// A closing connection wrote something: when stopping, wait longer (up to `stopLimit`).
    func madeClosingProgress() {
        if stopping {
            stopDeadline = min(stopLimitDeadline, Clock.monotonic() + IOThread.stopTime)
        }
    }

    /// Closes every socket of a Lua state that is going away, flushing what was sent, after
    /// copying the strings its script lent (the state frees them once this has run).
    private func forget(_ context: ScriptContext) {
        context.loans.recallAll()
        for listener in listeners.values where listener.context === context {
            stopListening(listener)
        }
        for connection in connections.values where connection.context === context {
            if connection.currentPhase < .closing {
                connection.enter(.closing)
                beginClosing(connection)
            }
        }
    }

    /// The states that still have a listener or a connection here, each once.
    private func openContexts() -> [ScriptContext] {
        var seen = Set<ObjectIdentifier>()
        let all = listeners.values.map(\.context) + connections.values.map(\.context)
        return all.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// Puts a state-change event in its state's ring (never refused for room; see
    /// `EventRing`) if `admit`, run under the ring's lock, lets it: `admit` makes the change
    /// of state that goes with the event, in one step for the Lua thread (`EventRing.push`).
    func report(_ event: Event, admit: () -> Bool = { true }) {
        var single: [Event?] = [event]
        handleDropped(event.source.context.events.push(contentsOf: &single, admit: admit).dropped)
    }

    /// Closes the connections whose EVENT_CONNECT was dropped: no script can ever hold them.
    /// With a reset: what their peers sent and send will never be read, and a graceful close
    /// read and dropped it through its linger, then ended with a FIN, which told a peer that
    /// had sent messages meanwhile "closed by peer" and no more. (Any thread: `requestClose`
    /// only queues a command.)
    public func handleDropped(_ events: [Event]) {
        for event in events where event.kind == .connect {
            (event.source as? Connection)?.requestClose(reason: "its connect event was lost to event queue overflow",
                                                        reset: true)
        }
    }
}
