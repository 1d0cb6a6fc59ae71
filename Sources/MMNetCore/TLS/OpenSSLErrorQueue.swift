// OpenSSLErrorQueue: the one place that reads OpenSSL's per-thread error queue. Every OpenSSL
// operation of the TLS engine runs between `clear()` and `drain()`, so no error left by one
// connection (or by another library in the process) is ever blamed on the next.
//
// Thread: any; the queue is per thread, and each operation clears and drains it on its thread.
import COpenSSLShim

/// OpenSSL's error queue, cleared before and drained after each operation.
enum OpenSSLErrorQueue {
    /// One entry of the queue: its packed code and reason string.
    struct Entry {
        /// The packed error code (`ERR_get_error`).
        let code: UInt
        /// The reason number (`ERR_GET_REASON`), e.g. SSL_R_BINDER_DOES_NOT_VERIFY.
        var reason: Int32 { ERR_GET_REASON(code) }
        /// OpenSSL's reason text, e.g. "binder does not verify".
        var text: String {
            if let string = ERR_reason_error_string(code) { return String(cString: string) }
            return "OpenSSL error \(code)"
        }
    }

    /// Empties the calling thread's queue (ERR_clear_error), when anything is in it. Our own
    /// operations leave it empty (`drain`), so this finds something only after other code of
    /// the thread; ERR_clear_error resets every slot of the queue whatever it holds (about 840
    /// instructions, against about 200 for the look), and ran before every TLS read and write.
    static func clear() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Removes and returns every entry of the calling thread's queue, oldest first.
    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { return entries }
            if entries.count < 8 { entries.append(Entry(code: code)) }
        }
    }

    /// The drained entries' reasons, joined for a message: "a; b", or `fallback` if none.
    static func reasons(_ entries: [Entry], fallback: String) -> String {
        if entries.isEmpty { return fallback }
        var seen: [String] = []
        for entry in entries where !seen.contains(entry.text) { seen.append(entry.text) }
        return seen.joined(separator: "; ")
    }
}
