// The I/O thread's writing of a connection's send queue: taken under the connection's lock,
// written with writev without it, what the socket does not take put back in front; bursts of
// small sends gathered first; the closing and written-out-after-the-peer's-end cases finished
// once the queue is written.
//
// Thread: I/O thread only; but `writeFrames` and `brokenWriteReason`, static and stateless, are
// also called by the Lua thread, under the connection's lock, for the sends it writes at once.
import Glibc

extension IOThread {
    /// Most iovecs per writev.
    static let writeBatch = 1024

    /// Writes what the connection has queued, as far as the socket takes it (encrypting the
    /// plaintext waiting first, on encrypted connections).
    func flush(_ connection: Connection) {
        let phase = connection.currentPhase
        guard connection.tcpConnected && (phase != .closed || connection.writingOutAfterEnd) else { return }
        switch writeQueue(of: connection) {
        case .broken(let reason) where phase == .open, .failed(let reason) where connection.pendingEnd != nil:
            // The peer is gone, but what it sent before may still be waiting to be read:
            // stop writing, and read on until the stream ends; the read that meets the end
            // reports the close (the kernel returns the queued data before the error). On an
            // encrypted connection too: only the socket failed, not the TLS session, which
            // still decrypts what arrived. Or the end is known and held until the script has
            // polled what came before it (`endOfStream`): it reports the close. (A failed TLS
            // session's end held so: the script's next send met the failure when encrypted and
            // failed the connection at once, the messages held back lost.)
            connection.lock.withLock {
                if connection.writeFailure == nil { connection.writeFailure = reason }
                connection.writeShut = true
                connection.outQueue.removeAll()
                connection.plainQueue.removeAll()
                connection.queuedBytes = 0
            }
            updateInterest(connection)
        case .broken(let reason), .failed(let reason):
            fail(connection, reason)
        case .written(let drained, let progress):
            let ending = phase == .closing || connection.writingOutAfterEnd
            if ending && progress {
                // A closing connection waits as long as its peer keeps taking what was sent;
                // it is given up only after `lingerTime` without progress.
                connection.deadline = Clock.monotonic() + IOThread.lingerTime
                madeClosingProgress()
            }
            if drained && ending && connection.lock.withLock({ connection.plainQueue.isEmpty }) {
                if connection.writingOutAfterEnd {
                    finish(connection, reason: "closed")  // the peer's end came: the FIN follows the last byte
                    return
                }
                Posix.shutdownWrite(connection.fd)  // then the peer's end is awaited
            }
            updateInterest(connection)
        case .deferred:
            scheduleSoonFlush(connection)
            updateInterest(connection)
        }
    }

    /// Writes the queue until it is empty or the socket is full. The queue is taken under the
    /// connection's lock and written without it, so the script's sends meanwhile append behind
    /// it instead of waiting for the system call (and the frees of the frames written); what
    /// the socket did not take goes back in front of them. Repeats while the socket takes all
    /// and more was queued; but when what was queued during a write is a burst still short of
    /// `Connection.coalesceBytes`, it gathers for `coalesceTime` first (`.deferred`), as the
    /// burst's start did: written at once, it would go out a few frames per system call.
    private func writeQueue(of connection: Connection) -> FlushOutcome {
        var progress = false
        while true {
            var batch: [ByteBlock] = []
            var offset = 0
            var deferred = false
            let problem: TLSError? = connection.lock.withLock {
                if let problem = connection.encryptPending() { return problem }
                if connection.outQueue.isEmpty {
                    connection.flushScheduled = false
                    connection.flushDeferred = false
                    connection.repliesQueued = 0
                } else if progress && connection.tls == nil && connection.phase == .open
                            && connection.queuedBytes < Connection.coalesceBytes {
                    connection.flushDeferred = true  // `enqueue` escalates once the burst is long
                    deferred = true
                } else {
                    (batch, offset) = connection.outQueue.takeAll()
                    connection.flushDeferred = false  // a partial write waits for POLLOUT
                    connection.writing = true
                }
                return nil
            }
            if let problem { return .failed(problem.message) }
            if deferred { return .deferred }
            if batch.isEmpty { return .written(drained: true, progress: progress) }
            let result = IOThread.writeFrames(connection.fd, batch, from: offset)
            let complete: Bool = connection.lock.withLock {
                connection.writing = false
                connection.queuedBytes -= result.bytes
                connection.counters.bytesSent += result.bytes
                guard result.done < batch.count else { return true }
                connection.outQueue.putBack(batch[result.done...], offset: result.offset)
                return false
            }
            if result.bytes > 0 { progress = true }
            if let error = result.error { return .broken(IOThread.brokenWriteReason(error)) }
            if !complete { return .written(drained: false, progress: progress) }
        }
    }

    /// Why a write failed, for the close it causes: worded as when a read meets the reset (it
    /// said "write failed: Connection reset by peer" of a peer that reset during the hello).
    static func brokenWriteReason(_ error: SystemError) -> String {
        error.errno == ECONNRESET ? "connection reset by peer" : "write failed: \(error.reason)"
    }

    /// Writes `frames` (the first from byte `offset`) with writev, up to `writeBatch` frames per
    /// call, as far as the socket takes them.
    /// - Returns: the bytes written, how many frames went whole, the bytes written of the next
    ///   one, and the error that stopped the writing, if any.
    static func writeFrames(_ fd: Int32, _ frames: [ByteBlock], from offset: Int)
        -> (bytes: Int, done: Int, offset: Int, error: SystemError?) {
        var total = 0
        var done = 0
        var offset = offset
        while done < frames.count {
            let written: Int?
            do throws(SystemError) {
                written = try withUnsafeTemporaryAllocation(of: iovec.self, capacity: IOThread.writeBatch) { iov throws(SystemError) in
                    var count = 0
                    var start = offset
                    for frame in frames[done...].prefix(IOThread.writeBatch) {
                        frame.withUnsafeBytes { bytes in
                            iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + start),
                                               iov_len: bytes.count - start)
                        }
                        start = 0
                        count += 1
                    }
                    return try Posix.writev(fd, iov.baseAddress!, count: Int32(count))
                }
            } catch {
                return (total, done, offset, error)
            }
            guard var n = written else { break }  // the socket is full
            total += n
            while n > 0 {
                let left = frames[done].count - offset
                if n >= left {
                    n -= left
                    done += 1
                    offset = 0
                } else {
                    offset += n
                    n = 0
                }
            }
        }
        return (total, done, offset, nil)
    }
}

/// How a flush ended.
private enum FlushOutcome {
    /// Written as far as the socket took it: all of it (`drained`) or not; `progress`: some.
    case written(drained: Bool, progress: Bool)
    /// Some was written; the rest is a burst that gathers for `coalesceTime` before it is.
    case deferred
    /// Writing to the socket failed (the peer is gone), for this reason.
    case broken(String)
    /// Encrypting failed, for this reason.
    case failed(String)
}
