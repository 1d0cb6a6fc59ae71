// Clocks: monotonic time for deadlines and wall-clock time for event timestamps.
//
// Thread: any.
import Glibc

/// Time sources, in seconds as `Double`.
public enum Clock {
    /// Seconds on the monotonic clock (for deadlines and durations; never jumps).
    @inline(__always)
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds since the Unix epoch, with sub-millisecond precision (event `.Timestamp`).
    @inline(__always)
    public static func wall() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
