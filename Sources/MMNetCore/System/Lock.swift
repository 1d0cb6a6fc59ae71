// A pthread mutex and a condition variable, used through `withLock { }` only.
//
// Thread: any (that is their job).
import Glibc

/// A mutual-exclusion lock around `pthread_mutex_t`.
public final class Lock: @unchecked Sendable {
    fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    /// Creates an unlocked mutex.
    public init() {
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held and returns its result (its error keeps its type).
    @inline(__always)
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A condition variable tied to one `Lock`, on the monotonic clock.
public final class Condition: @unchecked Sendable {
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The lock a waiter must hold.
    public let lock: Lock

    /// Creates a condition variable for `lock`.
    public init(lock: Lock) {
        self.lock = lock
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    /// Waits until signalled or until the monotonic clock passes `deadline` (seconds; one
    /// past `Condition.farthest`, infinity included, is that; NaN is now). Call with `lock`
    /// held (inside `lock.withLock`). Returns false on timeout.
    @discardableResult
    public func wait(until deadline: Double) -> Bool {
        // Int(deadline) traps at 2^63 and beyond: PollEvents(1e19) killed the host.
        let deadline = deadline.isNaN ? 0 : min(deadline, Condition.farthest)
        var ts = timespec()
        ts.tv_sec = Int(deadline)
        ts.tv_nsec = Int((deadline - Double(Int(deadline))) * 1e9)
        return pthread_cond_timedwait(cond, lock.mutex, &ts) == 0
    }

    /// The farthest deadline a wait keeps: 10^15 s, 30 million years of the monotonic clock.
    public static let farthest = 1e15

    /// Wakes every waiter (with or without `lock` held).
    public func broadcast() {
        pthread_cond_broadcast(cond)
    }
}
