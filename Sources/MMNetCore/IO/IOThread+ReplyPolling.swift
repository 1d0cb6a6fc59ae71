// The I/O thread's polling without sleeping while a script exchanges requests and replies.
//
// A script waiting for a reply spins for it (`SpinWait`, `EventRing.drain`), so that the reply
// costs it no wake-up. The reply still reached this thread through a wake-up from poll(2): on
// two virtual cores, with both scripts of a ping-pong spinning, the woken thread waited for a
// core (`perf sched`: 5 to 6 us on average, each way) before it could read. Once it has
// delivered a message to a script that waits for replies, this thread keeps polling without
// sleeping for a while (`ReplyPolling`), so the reply to the script's next request finds it
// awake too.
//
// Thread: I/O thread only.
import Glibc

extension IOThread {
    /// Descriptors polled at most for polling without sleeping: each poll(2) costs time in
    /// proportion to them, and a server of many connections is woken often anyway.
    static let replyPollDescriptors = 64

    /// Notes that a message went to a script that waits for replies, spinning `spin` seconds
    /// for each (`ReplyPolling.delivered`).
    func awaitReplies(spin: Double) {
        replyPolling.delivered(now: Clock.monotonic(), spin: spin)
    }

    /// Polls without sleeping (yielding the CPU between polls) until a descriptor is ready,
    /// the window `replyPolling` opened is over or a deadline comes; returns whether one is
    /// ready (its results are in the poll set, as after a poll(2) that slept). Returns false at
    /// once when no window is open at `now`, or when there are too many descriptors.
    func pollForReplies(now: Double) throws -> Bool {
        let until = replyPolling.until
        guard now < until && pollSet.count <= IOThread.replyPollDescriptors else { return false }
        let end = min(until, now + (pollTimeout(now: now) ?? .infinity))
        while true {
            if try pollSet.poll(timeout: 0) > 0 {
                replyPolling.ended(caught: true)
                return true
            }
            let time = Clock.monotonic()
            if time >= end {
                if time >= until { replyPolling.ended(caught: false) }
                return false
            }
            sched_yield()
        }
    }
}
