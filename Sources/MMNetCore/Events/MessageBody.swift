// The MessagePack body of a received message, from the I/O thread's read buffer to the
// script's decode.
//
// Thread: made on the I/O thread, read and released on the Lua thread (inside an `Event`).
import Glibc

/// The bytes of one received message: a copy for a small body; for a large one that was the
/// only thing in the connection's read buffer, that buffer itself, taken over without a copy.
public struct MessageBody: Sendable {
    private enum Storage {
        case copied([UInt8])
        case adopted(AdoptedMemory)
    }

    private let storage: Storage

    /// No bytes (the body of the events that are not messages).
    public init() {
        storage = .copied([])
    }

    /// A copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = .copied(Array(bytes))
    }

    /// `count` bytes at `offset` in `memory`, which came from malloc and is freed with the body.
    init(adopting memory: UnsafeMutableRawPointer, offset: Int, count: Int) {
        storage = .adopted(AdoptedMemory(memory: memory, offset: offset, count: count))
    }

    /// The number of bytes.
    public var count: Int {
        switch storage {
        case .copied(let bytes): return bytes.count
        case .adopted(let memory): return memory.count
        }
    }

    /// Calls `body` with the bytes; the pointer is valid only during the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .copied(let bytes):
            return try bytes.withUnsafeBytes(body)
        case .adopted(let memory):
            return try body(UnsafeRawBufferPointer(start: memory.memory + memory.offset, count: memory.count))
        }
    }
}

/// malloc'd memory holding a body at an offset, freed when the last body using it goes.
/// Immutable once made, so it may cross threads.
private final class AdoptedMemory: @unchecked Sendable {
    let memory: UnsafeMutableRawPointer
    let offset: Int
    let count: Int

    init(memory: UnsafeMutableRawPointer, offset: Int, count: Int) {
        self.memory = memory
        self.offset = offset
        self.count = count
    }

    deinit { free(memory) }
}
