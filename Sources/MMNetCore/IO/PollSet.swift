// The array of `pollfd`s the I/O thread hands to poll(2), and who owns each entry.
//
// Thread: I/O thread only.
import Glibc

/// What a poll entry belongs to.
enum PollOwner {
    /// The I/O thread's own wake-up eventfd.
    case wakeup
    /// A server's listening socket.
    case listener(Listener)
    /// A connection's socket.
    case connection(Connection)
}

/// A `pollfd` array kept in step with its owners; entries are removed by moving the last one
/// into the hole, so adding and removing cost O(1).
struct PollSet {
    /// The array poll(2) reads and fills in.
    private(set) var fds: [pollfd] = []
    private var owners: [PollOwner] = []

    /// Entries, the wake-up one included.
    var count: Int { fds.count }

    /// Adds an entry and returns its index.
    mutating func add(fd: Int32, events: Int16, owner: PollOwner) -> Int {
        fds.append(pollfd(fd: fd, events: events, revents: 0))
        owners.append(owner)
        return fds.count - 1
    }

    /// Removes the entry at `index`; the entry that moves into its place learns its new index.
    mutating func remove(at index: Int) {
        let last = fds.count - 1
        if index != last {
            fds[index] = fds[last]
            owners[index] = owners[last]
            switch owners[index] {
            case .wakeup: break
            case .listener(let listener): listener.pollIndex = index
            case .connection(let connection): connection.pollIndex = index
            }
        }
        fds.removeLast()
        owners.removeLast()
    }

    /// Sets the events polled for at `index` (and polls it again if it was suspended).
    mutating func setEvents(_ events: Int16, at index: Int) {
        if fds[index].fd < 0 { fds[index].fd = -1 - fds[index].fd }
        fds[index].events = events
    }

    /// Leaves the entry at `index` out of poll(2) (a negative descriptor is ignored), even for
    /// POLLERR and POLLHUP, which no events mask turns off; `setEvents` brings it back.
    mutating func suspend(at index: Int) {
        if fds[index].fd >= 0 { fds[index].fd = -1 - fds[index].fd }
    }

    /// Polls every entry, waiting up to `timeout` seconds (nil: no limit).
    mutating func poll(timeout: Double?) throws -> Int {
        try fds.withUnsafeMutableBufferPointer {
            try Posix.poll($0.baseAddress!, count: $0.count, timeout: timeout)
        }
    }

    /// Clears what the last poll(2) reported, after a poll that failed (its entries stay).
    mutating func forgetReadiness() {
        for i in fds.indices { fds[i].revents = 0 }
    }

    /// The entries poll(2) marked ready, with what it reported.
    func ready() -> [(PollOwner, Int16)] {
        var result: [(PollOwner, Int16)] = []
        for i in fds.indices where fds[i].revents != 0 {
            result.append((owners[i], fds[i].revents))
        }
        return result
    }
}
