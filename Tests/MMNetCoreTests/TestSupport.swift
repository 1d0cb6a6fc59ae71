// Helpers shared by the codec tests: hex conversion, a recording visitor, corpus file access.
//
// Thread: test runner thread.
import Glibc
import XCTest
@testable import MMNetCore

/// Bytes from a hex string ("81 a1 61" or "81a161").
func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.unicodeScalars.filter { !$0.properties.isWhitespace }.map { UInt8($0.value) }
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

/// Lowercase hex of bytes, no spaces.
func hex(_ data: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(data.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

/// The bytes a writer produces with `body`.
func written(_ body: (inout ByteWriter) throws -> Void) -> [UInt8] {
    var writer = ByteWriter(limit: 1 << 30)
    do { try body(&writer) } catch { XCTFail("unexpected overflow") }
    return writer.makeArray()
}

/// Writes `data` with `writeString` (str or bin).
func writeString(_ data: [UInt8], into writer: inout ByteWriter) throws {
    try data.withUnsafeBytes { raw in
        try writer.writeString(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: raw.count)
    }
}

/// A visitor that records what the reader reports, as readable tokens.
struct RecordingVisitor: MessagePackVisitor {
    var events: [String] = []
    mutating func visitNil() { events.append("nil") }
    mutating func visitBool(_ value: Bool) { events.append("\(value)") }
    mutating func visitInt(_ value: Int64) { events.append("i\(value)") }
    mutating func visitFloat(_ value: Double) {
        events.append(value.sign == .minus && value == 0 ? "f-0" : "f\(value)")
    }
    mutating func visitString(_ bytes: UnsafeRawBufferPointer) { events.append("s" + hex(Array(bytes))) }
    mutating func beginArray(count: Int) { events.append("[\(count)") }
    mutating func endArrayElement(index: Int) { events.append("#\(index)") }
    mutating func endArray() { events.append("]") }
    mutating func beginMap(count: Int) { events.append("{\(count)") }
    mutating func endMapEntry() { events.append("=") }
    mutating func endMap() { events.append("}") }
}

/// Reads `data` with a recording visitor: the events, or the error message.
func read(_ data: [UInt8], limits: CodecLimits = CodecLimits()) -> Result<[String], CodecError> {
    var visitor = RecordingVisitor()
    return data.withUnsafeBytes { raw in
        do throws(CodecError) {
            try MessagePackReader.read(raw, limits: limits, visitor: &visitor)
            return .success(visitor.events)
        } catch {
            return .failure(error)
        }
    }
}

/// The validator's verdict on `data`.
func validate(_ data: [UInt8], limits: CodecLimits = CodecLimits()) -> CodecError? {
    data.withUnsafeBytes { MessagePackValidator.validate($0, limits: limits) }
}

/// The directory of the malformed-input corpus, found from this file's path.
let corpusDirectory: String = {
    var path = #filePath
    while let slash = path.lastIndex(of: "/"), !path.hasSuffix("/Tests") { path = String(path[..<slash]) }
    return path + "/corpus/msgpack"
}()

/// The names of the files in `directory`, sorted.
func fileNames(in directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        if !name.hasPrefix(".") { names.append(name) }
    }
    return names.sorted()
}

/// The contents of the file at `path`.
func contents(of path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { return [] }
    defer { fclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n == 0 { break }
        result += chunk[0..<n]
    }
    return result
}
