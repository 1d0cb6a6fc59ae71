// EncodeFailure: why a table could not be encoded, and where in it, collected while unwinding.
//
// Thread: Lua thread only (built by the encoder), then any (value type).
import MMNetCore

/// A refusal of the Lua encoder: the reason, plus the path to the offending value, gathered one
/// segment per table level as the error travels back up. Strings are built only on failure.
struct EncodeFailure: Error {
    /// What is wrong, e.g. "function values cannot be sent".
    var reason: String
    /// Path segments from the offending value outwards (`[3]`, `.f`, ...).
    var segments: [String] = []
    /// Whether the whole message is at fault (size limit) rather than the value at the path.
    var aboutWholeMessage = false

    /// The user-facing error: `rootName` + path + ": " + reason; for the size limit,
    /// `rootName: reason (reached at <path>)`.
    /// - Parameter rootName: the name of the table the script passed ("packet", "table").
    func codecError(rootName: String) -> CodecError {
        var path = rootName
        for segment in segments.reversed() { path += segment }
        if aboutWholeMessage { return CodecError(message: rootName + ": " + reason + " (reached at " + path + ")") }
        return CodecError(message: path + ": " + reason)
    }
}

/// Whether `word` is one of Lua's reserved words, which cannot follow a dot in a path.
/// (A switch, not a global Set: a global would be allocated once and lost when Lua unloads us.)
private func isLuaKeyword(_ word: String) -> Bool {
    switch word {
    case "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
         "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while":
        return true
    default:
        return false
    }
}

/// The most bytes of a key an error's path shows (a key of 3 MB made a message as long).
private let pathKeyBytesShown = 64

/// The path segment naming key bytes that are a string: `.name` when it is an identifier,
/// otherwise `["..."]` with quotes, backslashes, control bytes and invalid UTF-8 escaped;
/// a key longer than `pathKeyBytesShown` bytes shows its start, then how long it is.
/// - Parameters:
///   - start: first byte of the key.
///   - count: its length.
func pathSegment(stringKey start: UnsafeRawPointer, count: Int) -> String {
    if count > pathKeyBytesShown {
        // Cut before a UTF-8 character's continuation bytes (at most 3), not inside it.
        var shown = pathKeyBytesShown
        while shown > pathKeyBytesShown - 3 && start.load(fromByteOffset: shown, as: UInt8.self) & 0xC0 == 0x80 { shown -= 1 }
        return "[\"" + escapedKey(start, count: shown) + "\"... (\(count) bytes)]"
    }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let isIdentifier = count > 0 && bytes.enumerated().allSatisfy { index, byte in
        byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
            || (index > 0 && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
    let text = String(decoding: bytes, as: UTF8.self)
    if isIdentifier && !isLuaKeyword(text) { return "." + text }
    return "[\"" + escapedKey(start, count: count) + "\"]"
}

/// The key bytes as the inside of a Lua string literal: quotes, backslashes and control bytes
/// escaped, and every byte of 128 or more when they are not valid UTF-8.
private func escapedKey(_ start: UnsafeRawPointer, count: Int) -> String {
    let escapeHigh = !UTF8Validation.isValid(start, count: count)
    var quoted: [UInt8] = []
    for byte in UnsafeRawBufferPointer(start: start, count: count) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): quoted += [UInt8(ascii: "\\"), byte]
        case UInt8(ascii: "\n"): quoted += Array("\\n".utf8)
        // Three digits, as Lua's %q writes them: "\1" then "2" must not read as "\12".
        case 0..<32, 127: quoted += decimalEscape(byte)
        case 128... where escapeHigh: quoted += decimalEscape(byte)
        default: quoted.append(byte)
        }
    }
    return String(decoding: quoted, as: UTF8.self)
}

/// `byte` as a Lua decimal escape of three digits (`\001`, `\127`, `\255`).
private func decimalEscape(_ byte: UInt8) -> [UInt8] {
    [UInt8(ascii: "\\"), UInt8(ascii: "0") + byte / 100, UInt8(ascii: "0") + byte / 10 % 10,
     UInt8(ascii: "0") + byte % 10]
}
