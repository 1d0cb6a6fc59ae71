// A TCP connection: a client's link to its server, or a server's link to one client.
// This file holds its state and the send queue shared by both threads.
//
// Thread: both. Properties marked "I/O thread" are touched by the I/O thread only; the rest is
// guarded by `lock` (the Lua thread queues sends, asks for a close and reads the phase).
import Glibc

/// One connection, shared by the Lua thread (Send, Disconnect, getters) and the I/O thread.
public final class Connection: Endpoint, @unchecked Sendable {
    /// Which side opened it.
    public enum Role: Sendable {
        /// `network.Client`: this side connected.
        case client
        /// Accepted by a server's listener.
        case accepted
    }

    /// Where the connection is in its life.
    public enum Phase: Int, Sendable, Comparable {
        /// TCP connect in progress (clients).
        case connecting
        /// Connected; hellos being exchanged.
        case hello
        /// Carrying messages.
        case open
        /// Closing at this side's request: flushing what was sent, then closing.
        case closing
        /// Gone; the descriptor is closed.
        case closed

        /// Whether `a` comes before `b` in a connection's life.
        public static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
    }

    /// What `send` did.
    public enum SendOutcome: Sendable {
        /// Queued (or written already).
        case sent
        /// Refused: the send queue is over `SendQueueLimit`.
        case queueFull
        /// Refused: the connection is closing or closed.
        case notConnected
        /// Refused: no memory to queue it (malloc failed). When part of the frame had been
        /// written already, the connection fails too: its stream is cut in a message.
        case outOfMemory
    }

    /// The socket. Meaningful while `phase != .closed`.
    public let fd: Int32
    /// The address of the other side.
    public let peer: SocketAddress
    /// Client or accepted.
    public let role: Role
    /// The server that accepted it (accepted connections only).
    public let listener: Listener?
    /// The I/O thread that owns the socket.
    let io: IOThread
    /// The TLS session when the connection is encrypted (used under `lock` only). Let go once
    /// the connection is finished (`releaseEngine`); nil before that means a plain connection.
    private(set) var tls: TLSSession?

    // Shared state, under `lock`.
    /// Guards the shared state below and the TLS session.
    let lock = Lock()
    /// Where the connection is in its life (`currentPhase` reads it from any thread).
    private(set) var phase: Phase
    /// Why the connection failed or closed, once it has.
    private(set) var failure: String?
    /// Seconds from creation to the end of the hello, once open.
    private(set) var connectSeconds: Double?
    /// A client's EVENT_CONNECTED with Result true is queued (`IOThread.open`).
    private var connectedReported = false
    /// When the connection object was made (monotonic seconds).
    let createdAt = Clock.monotonic()
    /// Bytes to write to the socket, in order (ciphertext when encrypted).
    var outQueue = FrameQueue()
    /// Writing failed (the peer is gone): sends are refused, what was queued is dropped, and
    /// reading goes on until what the peer sent before is delivered.
    var writeShut = false
    /// Why a write found the peer gone (reset, or the pipe broken), whichever thread wrote: that
    /// write took the socket's error, so the read that meets the end next finds a plain end of
    /// stream, and reports this instead (`IOThread.read`). The first one is kept.
    var writeFailure: String?
    /// Plaintext frames waiting to be encrypted into `outQueue` (encrypted connections only),
    /// once the handshake is done: in batches by the I/O thread, or at once by the thread that
    /// sends a large frame (`encryptPending`).
    var plainQueue = FrameQueue()
    /// close_notify has been queued (encrypted connections).
    var tlsClosed = false
    /// Encrypting failed (`encryptPending`): the I/O thread fails the connection with it.
    var encryptionFailure: TLSError?
    /// Bytes waiting in `outQueue` and `plainQueue`, for SendQueueLimit and `SendQueueBytes`.
    var queuedBytes = 0
    /// Bytes of TLS records the engine wrote in reply to the peer's (a KeyUpdate that asks for
    /// one) since the send queue was last empty (`IOThread.decrypt` bounds them).
    var repliesQueued = 0
    /// The I/O thread has been asked to write the queue (and has not done it yet).
    var flushScheduled = false
    /// That request is a `flushSoon`: the burst may still grow (see `enqueue`).
    var flushDeferred = false
    /// The I/O thread is writing frames it took from `outQueue`, without the lock: the frames
    /// queued meanwhile must wait their turn, not be written from the Lua thread.
    var writing = false
    /// Tells isolated sends from a stream's (coalesced by the I/O thread): sends closer
    /// together than 10 us form a burst, and a send less than 1 ms after a stream's latest send
    /// (a burst of 16 or more) belongs to it unless it is the first to this connection since
    /// the script's last poll.
    private var bursts = BurstDetector(gap: 10e-6, pause: 1e-3)
    /// `ScriptContext.drains` at this connection's latest `send` (Lua thread only).
    private var lastSendDrain = UInt64.max
    /// A burst this many bytes long is written without waiting for `IOThread.coalesceTime`.
    static let coalesceBytes = 64 * 1024
    /// Traffic counters and round-trip times.
    var counters = ConnectionStats()

    // I/O thread only.
    /// Index of this connection's entry in the I/O thread's poll set.
    var pollIndex = -1
    /// When the hello or the closing linger must be over (monotonic seconds).
    var deadline = Double.infinity
    /// The HelloTimeout that `deadline` was set from (`startHello`), which its expiry names:
    /// a HelloTimeout changed since does not move it.
    var helloTimeout = 0.0
    /// Bytes read and not yet consumed.
    var input: ReadBuffer
    /// The peer's hello has been checked.
    var helloReceived = false
    /// The TCP connect has completed (always true for accepted connections).
    var tcpConnected: Bool
    /// When bytes last arrived (monotonic seconds), for dead-peer detection; moved forward
    /// when the silence before it is not the peer's (`IOThread.sweepLiveness`).
    var lastReceived = Clock.monotonic()
    /// The PeerTimeout the last liveness sweep applied (0: off), to notice a new one.
    var peerTimeoutApplied = 0.0
    /// When the last ping went out (monotonic seconds).
    var lastPing = Clock.monotonic()
    /// The ping sent at `lastPing` has not been answered yet: the one pong whose stamp is
    /// `lastPing` is taken as its answer.
    var pongAwaited = false
    /// Counted in its context's open connections.
    var countedOpen = false
    /// The peer's stream has ended (closed, reset, or a write failed) while frames it sent
    /// still wait for room in the event ring: the close to report once they are delivered.
    var pendingEnd: StreamEnd?
    /// Reading stopped because the event ring refused an event (`QueueFull = "wait"`).
    var readPaused = false
    /// The peer ended its stream cleanly while what `Send` accepted was still queued: the
    /// connection is closed for the script, and the I/O thread writes the queue out (the peer
    /// may have closed only its own direction, and read on) before it closes the socket.
    var writingOutAfterEnd = false
    /// poll(2) reported the peer's end (POLLRDHUP) behind what waits to be read: the peer's
    /// pings are answered no more (`IOThread.serve`).
    var peerEndSeen = false
    /// The size of the last message frame received whole, header included: when it was large
    /// (`IOThread.adoptSize` or more) the next read takes its header alone, and it is what the
    /// peer has earned for the next one (`IOThread.readAllowance`).
    var lastFrameSize = 0
    /// Its part of its state's event ring since the script's last poll (I/O thread only;
    /// `FairShare`).
    var share = FairShare()

    /// Creates a connection over an already connecting or accepted socket, with our hello queued.
    init(fd: Int32, peer: SocketAddress, role: Role, listener: Listener?, context: ScriptContext, io: IOThread,
         connected: Bool, tls: TLSSession?) {
        self.fd = fd
        self.peer = peer
        self.role = role
        self.listener = listener
        self.io = io
        self.tls = tls
        self.phase = connected ? .hello : .connecting
        self.tcpConnected = connected
        self.input = ReadBuffer(pool: context.buffers)
        super.init(context: context)
        let hello = ByteBlock(Hello.bytes(encrypted: tls != nil))
        if tls != nil { plainQueue.append(hello) } else { outQueue.append(hello) }
        queuedBytes = hello.count
    }

    /// The current phase (any thread).
    public var currentPhase: Phase { lock.withLock { phase } }

    /// Why it failed or closed, if it has (any thread).
    public var failureReason: String? { lock.withLock { failure } }

    /// Seconds connecting and the hello took, once the connection is open (any thread).
    /// Nil until its EVENT_CONNECTED with Result true is queued (a Disconnect between the open
    /// and the event leaves it nil: no event, so no success either).
    public var connectDuration: Double? { lock.withLock { connectedReported ? connectSeconds : nil } }

    /// Whether a client's connecting is over for `WaitForConnect` (any thread): it is open and
    /// its EVENT_CONNECTED is queued (the event goes in just after the phase changes: a script
    /// that saw the phase alone could poll before the event is there), or it failed (its
    /// EVENT_CONNECTED queued with the change, `IOThread.fail`), or it is closing or closed.
    public var connectingIsOver: Bool {
        lock.withLock { phase == .open ? connectedReported : phase > .open }
    }

    /// The connection's statistics now (any thread).
    public var stats: ConnectionStats {
        lock.withLock {
            var copy = counters
            copy.sendQueueBytes = queuedBytes
            copy.connectedTime = connectSeconds == nil || phase == .closed ? 0 : Clock.monotonic() - createdAt - connectSeconds!
            return copy
        }
    }

    /// Queues one encoded message frame for sending (Lua thread). `frame` starts with its
    /// header. When nothing is queued ahead of it and it is in one piece, the frame is written
    /// at once from this thread; whatever the socket does not take is left to the I/O thread.
    /// On an encrypted connection a large frame is encrypted here (`encryptOnSendSize`), and a
    /// small one is encrypted and written here when it is the script's first send since its
    /// last `PollEvents`, isolated (not within 10 us of the previous one) and nothing is
    /// queued ahead of it (`writeEncryptedNow`).
    /// `deferWrite`: never written from this thread, always left to the I/O thread (a message
    /// for many connections: one system call each on the script's thread made a Broadcast to
    /// 200 players cost 2.5 ms of a frame).
    public func send(_ frame: OutgoingFrame, limit: Int, deferWrite: Bool = false) -> SendOutcome {
        let firstSinceDrain = !context.sentSinceDrain
        context.sentSinceDrain = true
        let firstHereSinceDrain = lastSendDrain != context.drains
        lastSendDrain = context.drains
        return enqueue(frame, limit: limit, isMessage: true, deferWrite: deferWrite, firstSinceDrain: firstSinceDrain,
                       firstHereSinceDrain: firstHereSinceDrain)
    }

    /// Queues a control frame of mmnet's own, or several in a row (I/O thread), not counted as
    /// a message, while fewer than `limit` bytes wait to be written (for our pings,
    /// SendQueueLimit, as for messages; for the pongs a peer asks for, `Ping.answerQueueLimit`).
    /// Returns whether it did.
    @discardableResult
    func sendControl(_ frame: [UInt8], limit: Int) -> Bool {
        frame.withUnsafeBytes { enqueue(.borrowed($0), limit: limit, isMessage: false) } == .sent
    }

    /// Queues `frame` and asks the I/O thread to write it: at once when the frame is isolated
    /// or the queue is long, `IOThread.coalesceTime` later in a burst of small sends, so that
    /// the burst goes out in few writes and wakes the I/O thread (and the peer's) seldom.
    private func enqueue(_ frame: OutgoingFrame, limit: Int, isMessage: Bool, deferWrite: Bool = false,
                         firstSinceDrain: Bool = false, firstHereSinceDrain: Bool = false) -> SendOutcome {
        let (outcome, wake): (SendOutcome, IOThread.Command?) = lock.withLock {
            guard phase < .closing && !writeShut else { return (.notConnected, nil) }
            if queuedBytes > 0 && queuedBytes > limit - frame.count { return (.queueFull, nil) }
            if isMessage { counters.messagesSent += 1 }
            var offset = 0
            // With or without a key, a send that closely follows the previous one (a stream,
            // even one that polls between its sends) is left to the I/O thread, which packs
            // many into one write (and one TLS record); so is one that comes soon after a long
            // burst (a stream the scheduler paused), unless it is the first to this connection
            // since the script's last poll (a request or a reply, never held back).
            // mmnet's own pings and pongs (the I/O thread's) are no part of the script's stream.
            let isolated = !isMessage || bursts.isIsolated(at: Clock.monotonic(), firstSincePoll: firstHereSinceDrain)
            if tls != nil {
                let writable = firstSinceDrain && isolated && !deferWrite && plainQueue.isEmpty && outQueue.isEmpty
                    && !writing && phase == .open && frame.count < Connection.encryptOnSendSize
                guard plainQueue.append(frame) else {
                    if isMessage { counters.messagesSent -= 1 }
                    return (.outOfMemory, nil)
                }
                if writable {
                    queuedBytes += frame.count
                    let whole = writeEncryptedNow()
                    if isMessage { bursts.wroteAtOnce(endingAt: Clock.monotonic()) }
                    if whole { return (.sent, nil) }
                    queuedBytes -= frame.count  // counted again below, with what is left
                }
            } else {
                if !deferWrite && outQueue.isEmpty && !writing && phase == .open && isolated && frame.isContiguous {
                    offset = frame.withUnsafeBytes { writeNow($0) }
                    if isMessage { bursts.wroteAtOnce(endingAt: Clock.monotonic()) }
                    counters.bytesSent += offset
                    if offset == frame.count { return (.sent, nil) }
                }
                guard outQueue.append(frame, skipping: offset) else {
                    if isMessage { counters.messagesSent -= 1 }
                    guard offset > 0 else { return (.outOfMemory, nil) }
                    // The peer has the frame's start: its stream can only be cut. Shut down,
                    // the socket reads its end, and the I/O thread reports the failure then.
                    writeFailure = writeFailure ?? "out of memory for the send queue (a message was cut short)"
                    writeShut = true
                    Posix.shutdownBoth(fd)
                    return (.outOfMemory, nil)
                }
            }
            queuedBytes += frame.count - offset
            if tls != nil && frame.count >= Connection.encryptOnSendSize && phase == .open {
                _ = encryptPending()  // a failure is kept for the I/O thread, woken below
            }
            // A burst gathers for `IOThread.coalesceTime` with a key too: written at once, each
            // flush made a TLS record of whatever few sends had come (encrypted small stream,
            // 8 interleaved pairs: median 795,000 msgs/s at once, 1,062,000 with isolated sends
            // gathered as well). An isolated send is not held back: gathered, one that was not
            // the script's first since its last poll (an update to a second player) waited 100 us
            // and more (sent 50 us after the first: arrived 245 us after it, 62 us now). A send
            // within 1 ms of a stream is not isolated (`BurstDetector`): on a busy machine 1 to 4%
            // of a stream's sends come after such a pause, and written at once each cut the
            // gathering short: with a key a record (and a wake-up on both sides) of its own
            // (encrypted small stream, 32 interleaved pairs: median 812,000 msgs/s, 1,042,000
            // gathered), without one more system calls and wake-ups for both of the sender's
            // threads (16 pairs: 924,000 and 1,092,000 msgs/s; 3,760 and 1,013 writes).
            let soon = isMessage && !isolated && queuedBytes < Connection.coalesceBytes
            if flushScheduled {
                guard flushDeferred && !soon else { return (.sent, nil) }
                flushDeferred = false  // the burst grew long: write it now
                return (.sent, .flush(self))
            }
            flushScheduled = true
            flushDeferred = soon
            return (.sent, soon ? .flushSoon(self) : .flush(self))
        }
        if let wake { io.submit(wake) }
        return outcome
    }

    /// Encrypts the one small frame queued (nothing was queued before it) and writes its
    /// record at once from the calling thread, as a plain isolated send is written. Left to the
    /// I/O thread, a reply or a request cost its script a wake-up of that thread, and a
    /// request-reply round trip two thread hops more than without a key. Only an isolated
    /// send that is the script's first since its last `PollEvents` comes here: the sends after
    /// it, and those of a stream that polls between its sends, are left to the I/O thread,
    /// which packs many into one record and one write (one record and one system call each
    /// made such a stream 3 to 5 times slower). Returns whether the
    /// socket took all of it; what it did not take stays queued for the I/O thread, which also
    /// meets again, and reports, a failure to encrypt or to write. Call under `lock`, with the
    /// frame counted in `queuedBytes`.
    private func writeEncryptedNow() -> Bool {
        guard encryptPending() == nil && plainQueue.isEmpty else { return false }
        let (blocks, offset) = outQueue.takeAll()
        let result = IOThread.writeFrames(fd, blocks, from: offset)
        queuedBytes -= result.bytes
        counters.bytesSent += result.bytes
        if let error = result.error { noteWriteFailure(error) }
        outQueue.putBack(blocks[result.done...], offset: result.offset)
        return outQueue.isEmpty
    }

    /// One non-blocking write from the calling thread; returns the bytes written (0 on any
    /// failure: the I/O thread will meet the error again and report it). Call under `lock`.
    private func writeNow(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if n < 0 { noteWriteFailure(SystemError("send", errno: errno)) }
        return n > 0 ? n : 0
    }

    /// Keeps why a write failed when the peer is gone (`writeFailure`); other failures (a full
    /// socket) are not kept. Call under `lock`.
    func noteWriteFailure(_ error: SystemError) {
        guard writeFailure == nil, error.errno == ECONNRESET || error.errno == EPIPE else { return }
        writeFailure = IOThread.brokenWriteReason(error)
    }
}

/// How a peer's stream ended: the words for the close event, and whether it was an error
/// (reported as EVENT_ERROR too) or an orderly close.
struct StreamEnd {
    /// `.Errors` of the close event.
    let reason: String
    /// Whether an EVENT_ERROR precedes the close event.
    let isError: Bool
}

extension Connection {
    /// Asks for a graceful close (Lua thread): everything already accepted by `send` is written
    /// first, then the connection closes. No event is reported for a close this side asked for;
    /// `reason` is what `failureReason` (for `WaitForConnect` and `Send`) says from now on,
    /// whatever ends the close (it said "not connected" until the I/O thread finished it,
    /// then "closed", or the failure of a connect still under way).
    /// Returns false when it was closing or closed already. `reset`: closed at once with a
    /// reset instead, what is queued given up (a connection no script holds).
    @discardableResult
    public func requestClose(reason: String = "disconnected", reset: Bool = false) -> Bool {
        let accepted: Bool = lock.withLock {
            guard phase < .closing else { return false }
            phase = .closing
            if failure == nil { failure = reason }
            return true
        }
        if accepted {
            listener?.remove(self)
            io.submit(reset ? .reset(self, reason: reason) : .close(self))
        }
        return accepted
    }

    /// Gives the connection `timeout` seconds from now to connect and finish its hello (the
    /// thread that makes it, before the I/O thread has it).
    func startHello(timeout: Double) {
        helloTimeout = timeout
        deadline = Clock.monotonic() + timeout
    }

    /// Refuses a queued message that the script cannot take (Lua thread): one that no longer
    /// decodes under the limits in force, or does not fit in the state's memory. Counts it in
    /// `MessagesRefused`; the messages queued after it are not delivered (`refusedQueued`), and
    /// the I/O thread closes the connection with its close event and `reason`, as when a
    /// malformed message arrives.
    public func refuseQueuedMessage(reason: String) {
        refusedQueued = true
        context.countRefusedMessage()
        io.submit(.refuse(self, reason: reason))
    }

    /// Records that the client's EVENT_CONNECTED with Result true is queued (I/O thread, under
    /// the ring's lock, with the push: `connectingIsOver`) and returns true; unless the
    /// script's Disconnect made it `.closing` since it opened: then the event is not queued.
    func noteConnectedReportedIfOpen() -> Bool {
        lock.withLock {
            guard phase == .open else { return false }
            connectedReported = true
            return true
        }
    }

    /// Moves to `.closed`, recording `reason` when it is the first failure (I/O thread, as the
    /// event that tells the script is queued: `IOThread.report`'s `admit`), and returns true;
    /// unless it is `.closing`: the script's Disconnect (or its state's close) came first, and
    /// no event of the connection may follow that.
    func closeUnlessClosing(reason: String) -> Bool {
        lock.withLock {
            guard phase != .closing else { return false }
            phase = .closed
            if failure == nil { failure = reason }
            return true
        }
    }

    /// Lets go of the TLS session of a finished connection (I/O thread; after it entered
    /// `.closed`, so that no `send` takes it for a plain one). OpenSSL's state, about 27 KB,
    /// was freed only with the object, which a script may keep (a table of players) and whose
    /// collection Lua does not hasten for memory it cannot see: a server's memory grew with
    /// every encrypted connection ever made (12 to 91 MB over 4,500, never more than 300 open;
    /// a review of the encrypted server).
    func releaseEngine() {
        lock.withLock { tls = nil }
    }

    /// Moves to `newPhase`, `.closing` or `.closed` (I/O thread), recording `reason` when it is
    /// the first failure.
    func enter(_ newPhase: Phase, reason: String? = nil) {
        lock.withLock {
            phase = newPhase
            if failure == nil, let reason { failure = reason }
        }
    }

    /// Moves from `expected` to `newPhase` in one step under the lock (I/O thread); returns
    /// whether it did. The script's Disconnect (`requestClose`) may have made the connection
    /// `.closing` since the I/O thread last looked: a check then a separate `enter` would undo
    /// it, and the connection would open and stay open, its close lost.
    func advance(from expected: Phase, to newPhase: Phase) -> Bool {
        lock.withLock {
            guard phase == expected else { return false }
            phase = newPhase
            if newPhase == .open { connectSeconds = Clock.monotonic() - createdAt }
            return true
        }
    }
}
