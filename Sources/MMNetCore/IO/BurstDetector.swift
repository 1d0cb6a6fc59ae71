// BurstDetector: tells a connection's isolated `Send` (written at once) from one that is part of
// a stream (queued for the I/O thread to write many at once): a burst's, or one that comes soon
// after a long burst, when the scheduler paused the stream for a moment.
//
// Thread: Lua thread, under the connection's lock.

/// Decides, from the times of one connection's sends, whether a send is isolated.
///
/// A send is part of a burst when it comes less than `gap` seconds after the previous send
/// ended. The gap counts from the end of a send that was written at once, not its start: on a
/// loaded machine the system call itself can take longer than `gap`, and counted in, it would
/// make the next send of a stream look isolated too, and that one again: every send of the
/// stream would become a system call of its own on the script's thread.
///
/// A send less than `pause` seconds after a stream's latest send (one of a run of
/// `streamLength` sends or more, each within `gap` of the previous) is not isolated either: on
/// a busy machine the script sending a stream is paused now and then for tens or hundreds of
/// microseconds, and written at once, the send after each pause cut the burst's gathering short
/// (a write, and with a key a TLS record, of its own). Unless it is the connection's first
/// send since the script's last poll: a request or a reply, which is never held back. A short
/// burst is no stream: a game's few updates to a player and a message of its own 300 us later,
/// held, came 185 us later than written at once.
struct BurstDetector {
    /// Sends closer together than this (seconds) form a burst.
    let gap: Double
    /// A send this soon (seconds) after a stream's latest send belongs to the stream.
    let pause: Double
    /// A run of this many sends or more, each within `gap` of the previous, is a stream.
    static let streamLength = 16
    /// When the previous send ended (monotonic seconds; -infinity before the first).
    private var lastSend = -Double.infinity
    /// Sends in the current run of sends each within `gap` of the previous.
    private var run = 0
    /// When the latest send of a stream came (-infinity before the first).
    private var lastStream = -Double.infinity

    /// A detector of bursts whose sends come less than `gap` seconds apart, and of streams
    /// paused for less than `pause` seconds.
    init(gap: Double, pause: Double) {
        self.gap = gap
        self.pause = pause
    }

    /// Whether a send starting at `now` is isolated (see the type); it becomes the previous send.
    /// `firstSincePoll`: it is the connection's first send since the script's last `PollEvents`.
    mutating func isIsolated(at now: Double, firstSincePoll: Bool) -> Bool {
        defer { lastSend = now }
        if now - lastSend < gap {
            run += 1
            if run >= BurstDetector.streamLength { lastStream = now }
            return false
        }
        run = 1
        return firstSincePoll || now - lastStream >= pause
    }

    /// The send just judged isolated was written at once and its write ended at `now`.
    mutating func wroteAtOnce(endingAt now: Double) {
        lastSend = now
    }
}
