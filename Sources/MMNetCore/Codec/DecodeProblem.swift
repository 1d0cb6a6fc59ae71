// DecodeProblem: the ways bytes can fail to be a message, and their user-facing text.
//
// Thread: any (value type).

/// Why `MessagePackReader` refused its input; turned into a `CodecError` only when it happens,
/// so the reader's fast path builds no strings.
public enum DecodeProblem: Sendable, Equatable {
    /// The input is empty.
    case empty
    /// The input is longer than the size limit.
    case tooLarge(size: Int, limit: Int)
    /// The first value is not a map or array.
    case notATable(marker: UInt8)
    /// A value needs more bytes than remain.
    case truncated(at: Int, needed: Int, remaining: Int)
    /// An array or map declares more elements than the remaining bytes could hold.
    case countTooLarge(at: Int, isMap: Bool, count: Int, remaining: Int)
    /// Containers nested deeper than the limit.
    case tooDeep(at: Int, limit: Int)
    /// A map key is nil.
    case nilKey(at: Int)
    /// A map key is NaN.
    case nanKey(at: Int)
    /// An extension type (fixext/ext).
    case ext(at: Int, marker: UInt8)
    /// The marker 0xc1, which MessagePack never uses.
    case neverUsed(at: Int)
    /// A uint64 above Int64.max, which a Lua integer cannot hold.
    case uintOutOfRange(at: Int)
    /// Bytes left after the value.
    case trailing(at: Int, count: Int)
    /// Number keys that would collide in Lua's tables past `limit` probes (`LuaKeyChains`), in
    /// the map whose header is at `at`.
    case collidingKeys(at: Int, limit: Int)
    /// No memory to follow a map's keys (`LuaKeyChains`).
    case outOfMemory(at: Int)
    /// The visitor could not grow the Lua stack.
    case stackExhausted

    /// The message a script sees.
    public var message: String {
        switch self {
        case .empty:
            return "malformed message: empty input"
        case let .tooLarge(size, limit):
            return "message of \(size) bytes is larger than the limit of \(limit) bytes"
        case let .notATable(marker):
            return "malformed message: the message must be a table (MessagePack map or array), "
                + "found \(typeName(marker)) (0x\(hex(marker))) at byte 0"
        case let .truncated(at, needed, remaining):
            return "malformed message: truncated at byte \(at) (\(needed) bytes needed, \(remaining) remain)"
        case let .countTooLarge(at, isMap, count, remaining):
            return "malformed message: \(isMap ? "map" : "array") of \(count) entries declared at byte \(at) "
                + "but only \(remaining) bytes remain"
        case let .tooDeep(at, limit):
            return "message nested deeper than \(limit) levels (at byte \(at))"
        case let .nilKey(at):
            return "malformed message: nil map key at byte \(at)"
        case let .nanKey(at):
            return "malformed message: NaN map key at byte \(at)"
        case let .ext(at, marker):
            return "malformed message: MessagePack extension types are not supported "
                + "(0x\(hex(marker)) at byte \(at))"
        case let .neverUsed(at):
            return "malformed message: invalid byte 0xc1 at byte \(at)"
        case let .uintOutOfRange(at):
            return "malformed message: unsigned integer above 9223372036854775807 at byte \(at)"
        case let .trailing(at, count):
            return "malformed message: \(count) trailing byte\(count == 1 ? "" : "s") after the message (at byte \(at))"
        case let .collidingKeys(at, limit):
            return "message refused: its number keys collide in Lua's tables (more than \(limit) "
                + "extra probes to insert them, in the map at byte \(at))"
        case let .outOfMemory(at):
            return "message refused: out of memory checking its map keys (at byte \(at))"
        case .stackExhausted:
            return "message nested too deep for the Lua stack"
        }
    }

    /// The error carrying this problem's message.
    public var error: CodecError { CodecError(message: message) }
}

/// Two lowercase hex digits.
private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
}

/// The MessagePack type family a marker byte starts.
private func typeName(_ marker: UInt8) -> String {
    switch marker {
    case 0x00...0x7F, 0xCC...0xD3, 0xE0...0xFF: return "an integer"
    case 0xA0...0xBF, 0xD9...0xDB: return "a string"
    case 0xC0: return "nil"
    case 0xC2, 0xC3: return "a boolean"
    case 0xC4...0xC6: return "binary data"
    case 0xCA, 0xCB: return "a float"
    case 0xC7...0xC9, 0xD4...0xD8: return "an extension type"
    default: return "an invalid byte"
    }
}
