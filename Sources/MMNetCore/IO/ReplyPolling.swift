// When the I/O thread polls without sleeping for a script's next reply: the window a delivery
// opens, and the back-off that closes it for deliveries whose windows caught nothing.
//
// Thread: I/O thread only (a value it owns).

/// The I/O thread's schedule of polling without sleeping (`IOThread.pollForReplies`).
///
/// A message delivered to a script that waits for replies (its `PollEvents` spun, `SpinWait`)
/// opens a window of twice that spin time, at most `longest`: in a request-reply exchange the
/// next message comes about one round trip after the script's reply. A window that ends with
/// nothing ready was wasted CPU: a server answering clients paced at their own rates looks
/// like a script waiting for replies, but its next request comes at random. After each such
/// window the next deliveries open none, one, then two, four, ... up to `mostSkipped`; a
/// window that catches something ends the back-off.
struct ReplyPolling {
    /// The longest window: polling this long saves one thread wake-up (tens of microseconds)
    /// at best, and the script's own `SpinWait` may be up to 10 ms.
    static let longest = 200e-6
    /// The most deliveries that open no window after windows that caught nothing.
    static let mostSkipped = 64

    /// Until when (monotonic seconds) the thread polls without sleeping.
    private(set) var until = 0.0
    /// Deliveries still to open no window, and how many the next wasted window sets.
    private var skips = 0
    private var backoff = 0

    /// A message went to a script waiting for replies, spinning `spin` seconds for each.
    mutating func delivered(now: Double, spin: Double) {
        if skips > 0 {
            skips -= 1
            return
        }
        until = max(until, now + min(2 * spin, ReplyPolling.longest))
    }

    /// Polling found a descriptor ready (`caught`), or the window is over with none.
    mutating func ended(caught: Bool) {
        if caught {
            backoff = 0
        } else {
            backoff = min(max(1, 2 * backoff), ReplyPolling.mostSkipped)
            skips = backoff
        }
    }
}
