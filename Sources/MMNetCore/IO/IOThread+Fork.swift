// The I/O thread and fork(): while another thread of the process forks, the I/O thread stops
// where it holds no lock, so that the child, which gets a copy of every lock as it was, never
// finds one held for ever by a thread it does not have (the Swift runtime's locks included,
// which the child's own I/O thread needs). The fork handlers themselves are in CSystemShim
// (`mmnet_watch_forks`): they close the parent's descriptors in the child.
//
// Thread: `parkForFork` and `unparkAfterFork` run on the forking thread, inside fork(2)'s
// handlers; `parkIfAsked` on the I/O thread.
import CSystemShim

extension IOThread {
    /// Seconds a fork waits at most for the I/O thread to stop.
    static let parkWait = 1.0

    /// Has every later fork() park the I/O thread first (`mmnet_watch_forks`).
    static func watchForks() {
        mmnet_watch_forks({ IOThread.parkForFork() }, { IOThread.unparkAfterFork() })
    }

    /// The process's I/O thread, if it runs (read under the global lock).
    private static var running: IOThread? {
        mmnet_global_lock()
        defer { mmnet_global_unlock() }
        return instance.flatMap { $0.isInherited ? nil : $0 }
    }

    /// Before a fork: asks the I/O thread to stop at the top of its loop, and waits until it
    /// has (`parkWait` at most).
    static func parkForFork() {
        guard let io = running else { return }
        io.parkLock.withLock { io.parkRequested.store(true, ordering: .releasing) }
        Posix.signal(eventfd: io.wakeFD)
        let deadline = Clock.monotonic() + parkWait
        io.parkLock.withLock {
            while !io.parked && Clock.monotonic() < deadline { io.parkCondition.wait(until: deadline) }
        }
    }

    /// After a fork, in the parent: lets the I/O thread go on.
    static func unparkAfterFork() {
        guard let io = running else { return }
        io.parkLock.withLock {
            io.parkRequested.store(false, ordering: .releasing)
            io.parkCondition.broadcast()
        }
    }

    /// Stops here, holding nothing but the park lock's condition, while a fork is under way.
    /// Otherwise one atomic load: it runs at every turn of the I/O thread's loop.
    func parkIfAsked() {
        guard parkRequested.load(ordering: .acquiring) else { return }
        parkLock.withLock {
            parked = true
            parkCondition.broadcast()
            while parkRequested.load(ordering: .acquiring) { parkCondition.wait(until: Condition.farthest) }
            parked = false
        }
    }
}
