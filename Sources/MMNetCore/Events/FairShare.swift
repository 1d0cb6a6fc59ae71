// One connection's part of its state's event queue between two of the script's polls, so that
// no peer takes more than its share while others send too.
//
// Thread: I/O thread (the ring reads and updates it under its lock, on the I/O thread's calls);
// a connection's empty one is made wherever the connection is.

/// The messages and bytes one connection queued in its state's event ring since the script's
/// last drain. When several connections queue messages between two drains, each may hold
/// `EventQueueSize / n` events and `EventQueueBytes / n` bytes of them (n: the connections
/// that did), within the room the ring has left; past it the I/O thread reads no more from it
/// until the script drains the ring. Its first message of a drain gets in whatever, so that
/// none waits for ever. A connection alone keeps the whole ring, as before. Without it
/// one peer's flood filled the whole queue: in "drop" mode the others lost most of their
/// messages (1,048 of 4,800 kept in a review's run), in "wait" mode they waited seconds behind
/// it (`EventRing.room(for:)`).
public struct FairShare: Sendable {
    /// The drain these counts started after (`EventRing`'s count of drains); -1 before any.
    var drain = -1
    /// Messages queued since.
    var events = 0
    /// Bytes of their bodies.
    var bytes = 0

    /// A connection's part before it queued anything.
    public init() {}

    /// The part of a connection that queued nothing since drain `drain`.
    init(drain: Int) {
        self.drain = drain
    }
}
