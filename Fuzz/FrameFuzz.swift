// libFuzzer target: the hello and frame parser (Hello.problem, FrameParser, Ping) on arbitrary
// bytes as a peer would send them, whole and again through a ReadBuffer in chunks whose sizes
// come from the input; both ways must see the same frames and the same refusal. Built by
// `make fuzz` from the wire, codec and ReadBuffer sources; seeds: Fuzz/corpus/frames.
//
// Thread: the fuzzer's thread only.

/// What parsing a byte stream came to: the frames, then how it ended.
struct StreamOutcome: Equatable {
    /// Each whole frame: its type and body.
    var frames: [FrameType] = []
    /// Message bodies, in order.
    var messages: [[UInt8]] = []
    /// Why the stream was refused, or "" while it is acceptable.
    var refusal = ""
}

/// The body-size limit the target uses: small, so that oversized headers are common.
let fuzzMaxMessageSize = 2048

/// Acts on the frames at the start of `input` as the I/O thread does; returns bytes consumed.
func consumeFrames(_ input: UnsafeRawBufferPointer, into outcome: inout StreamOutcome) -> Int {
    var offset = 0
    while outcome.refusal.isEmpty {
        let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
        switch FrameParser.next(rest, maxMessageSize: fuzzMaxMessageSize) {
        case .needMore:
            return offset
        case .oversized(let length, let limit):
            if length <= limit { fatalError("oversized frame within the limit") }
            outcome.refusal = "oversized \(length)"
        case .refused(let reason):
            if reason.isEmpty { fatalError("a refusal without a reason") }
            outcome.refusal = reason
        case .frame(let type, let bodyLength):
            if bodyLength > rest.count - FrameHeader.size { fatalError("frame beyond the input") }
            let body = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<FrameHeader.size + bodyLength])
            outcome.frames.append(type)
            switch type {
            case .ping:
                let pong = Ping.frame(.pong, echoing: body)
                let parsed = pong.withUnsafeBytes { FrameParser.next($0, maxMessageSize: 0) }
                if parsed != .frame(type: .pong, bodyLength: Ping.bodySize) { fatalError("our pong does not parse") }
            case .pong:
                if !(Ping.roundTrip(of: body, now: 1e9) >= 0) { fatalError("negative round trip") }
            case .message:
                checkMessage(body, limits: CodecLimits(maxDepth: 64, maxSize: fuzzMaxMessageSize))
                if MessagePackValidator.validate(body, limits: CodecLimits(maxSize: fuzzMaxMessageSize)) != nil {
                    outcome.refusal = "malformed"
                } else {
                    outcome.messages.append(Array(body))
                }
            }
            if outcome.refusal.isEmpty { offset += FrameHeader.size + bodyLength }
        }
    }
    return offset
}

/// The hello check, then the frames, on the whole stream at once.
func parseWhole(_ stream: UnsafeRawBufferPointer) -> StreamOutcome {
    var outcome = StreamOutcome()
    guard stream.count >= Hello.size else { return outcome }
    if let problem = Hello.problem(with: stream, encrypted: stream[5] & Hello.flagEncrypted != 0) {
        outcome.refusal = problem
        return outcome
    }
    _ = consumeFrames(UnsafeRawBufferPointer(rebasing: stream[Hello.size...]), into: &outcome)
    return outcome
}

/// The same stream arriving in chunks (sizes 1...64 taken from the bytes themselves) through
/// the I/O thread's ReadBuffer.
func parseChunked(_ stream: UnsafeRawBufferPointer) -> StreamOutcome {
    var outcome = StreamOutcome()
    var buffer = ReadBuffer()
    defer { buffer.release() }
    var helloDone = false
    var offset = 0
    while offset < stream.count && outcome.refusal.isEmpty {
        let chunk = min(stream.count - offset, Int(stream[offset] & 63) + 1)
        let space = buffer.writableSpace(minimum: chunk)!  // at most 64 bytes
        space.copyMemory(from: UnsafeRawBufferPointer(rebasing: stream[offset..<offset + chunk]))
        buffer.didWrite(chunk)
        offset += chunk
        if !helloDone {
            guard buffer.count >= Hello.size else { continue }
            let hello = buffer.bytes
            if let problem = Hello.problem(with: hello, encrypted: hello[5] & Hello.flagEncrypted != 0) {
                outcome.refusal = problem
                break
            }
            buffer.consume(Hello.size)
            helloDone = true
        }
        let used = consumeFrames(buffer.bytes, into: &outcome)
        if used > 0 { buffer.consume(used) }
    }
    return outcome
}

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let stream = UnsafeRawBufferPointer(start: data, count: size)
    if parseWhole(stream) != parseChunked(stream) { fatalError("whole and chunked parsing disagree") }
    return 0
}
