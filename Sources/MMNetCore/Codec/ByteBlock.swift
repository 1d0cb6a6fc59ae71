// An immutable run of bytes that crosses threads: a frame on its way out (from `Send` to the
// socket) or a message body on its way in (from the read buffer to the script's decode).
//
// Thread: any. Made on one thread, read and released on another; never changed once made.
import Glibc

/// Immutable bytes held by an array, or by malloc'd memory taken over without a copy: the
/// encoder's buffer of a large frame (`ByteWriter.take`), or the read buffer that held nothing
/// but one large message (`ReadBuffer.takeAll`). Copies of a block share its bytes.
public struct ByteBlock: Sendable {
    private enum Storage {
        case copied([UInt8])
        case adopted(AdoptedMemory)
    }

    private let storage: Storage

    /// No bytes (the body of the events that are not messages).
    public init() {
        storage = .copied([])
    }

    /// The bytes of `array`.
    public init(_ array: [UInt8]) {
        storage = .copied(array)
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
