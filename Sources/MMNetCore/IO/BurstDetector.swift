// BurstDetector: tells a connection's `Send` that follows the previous one closely (part of a
// burst, queued for the I/O thread to write many at once) from an isolated one (written at once),
// and notices a send that comes soon after a burst (a paused stream).
//
// Thread: Lua thread, under the connection's lock.

/// Decides, from the times of one connection's sends, whether a send belongs to a burst.
///
/// A send is part of a burst when it comes less than `gap` seconds after the previous send
/// ended. The gap counts from the end of a send that was written at once, not its start: on a
/// loaded machine the system call itself can take longer than `gap`, and counted in, it would
/// make the next send of a stream look isolated too, and that one again: every send of the
/// stream would become a system call of its own on the script's thread.
struct BurstDetector {
    /// Sends closer together than this (seconds) form a burst.
    let gap: Double
    /// When the previous send ended (monotonic seconds; -infinity before the first).
    private var lastSend = -Double.infinity
    /// When the latest send judged part of a burst came (-infinity before the first).
    private var lastBurst = -Double.infinity

    /// A detector of bursts whose sends come less than `gap` seconds apart.
    init(gap: Double) {
        self.gap = gap
    }

    /// Whether a send starting at `now` follows the previous one within `gap`; it becomes the
    /// previous send.
    mutating func isBurst(at now: Double) -> Bool {
        defer { lastSend = now }
        guard now - lastSend < gap else { return false }
        lastBurst = now
        return true
    }

    /// Whether a send at `now` comes less than `pause` seconds after a burst's latest send: a
    /// stream that the scheduler paused for a moment rather than a message of its own.
    func followsBurst(at now: Double, within pause: Double) -> Bool {
        now - lastBurst < pause
    }

    /// The send just judged isolated was written at once and its write ended at `now`.
    mutating func wroteAtOnce(endingAt now: Double) {
        lastSend = now
    }
}
