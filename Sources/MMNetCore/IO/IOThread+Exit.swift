// The I/O thread and the process's exit. A script that ends with `os.exit(code)` (without the
// `true` that closes its Lua state), or a host that calls exit() with states open, would end
// the process with the I/O thread in the middle of its work: what `Send` had queued was lost
// and the peers saw their connections cut (with a key, "without TLS close_notify"). At exit
// the thread now finishes first, as the last state's close would have it: every connection
// is flushed and closed, for up to `stopTime` without progress (`stopLimit` in all).
//
// Thread: `watchExit` on the Lua thread that starts the I/O thread (under the global lock);
// `finishAtExit` on the thread that calls exit(), or that unloads the library (dlclose runs
// the handlers a library registered; the thread is gone by then).
import COpenSSLShim
import CSystemShim
import Glibc

extension IOThread {
    /// The exit handler is registered (once per load of the library: `atexit` ties it to this
    /// library, so an unload runs it and a new load starts afresh).
    nonisolated(unsafe) private static var exitWatched = false

    /// Has the process's exit run `finishAtExit` first. Call under the global lock.
    static func watchExit() {
        guard !exitWatched else { return }
        exitWatched = true
        // exit() runs its handlers in the reverse order of their registration, and OpenSSL
        // registers its cleanup when it first initializes: initialized here, before ours is
        // registered, its cleanup runs after ours, in which the thread may still encrypt.
        // Error strings only (options 0 would do nothing at all): the configuration file is
        // not decided on, so a host that initializes OpenSSL with settings of its own later
        // still gets them.
        OPENSSL_init_crypto(UInt64(OPENSSL_INIT_LOAD_CRYPTO_STRINGS), nil)
        atexit { IOThread.finishAtExit() }
    }

    /// At exit: has the process's I/O thread close every connection of every state still open,
    /// flushing what was sent, and joins it. Nothing when no thread runs (every state closed)
    /// or the thread is a parent process's (a child of fork() that started none of its own).
    static func finishAtExit() {
        mmnet_global_lock()
        let io = instance
        mmnet_global_unlock()
        guard let io, !io.isInherited else { return }
        _ = io.stopAndJoin(.exit)
    }
}
