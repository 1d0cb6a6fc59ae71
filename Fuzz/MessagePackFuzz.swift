// libFuzzer target: the MessagePack decoder (MessagePackReader, MessagePackValidator) on
// arbitrary bytes, with the default limits and at the depth ceiling. Built by `make fuzz`
// (swiftc -sanitize=fuzzer,address) from the codec's own sources; seeds: Tests/corpus/msgpack.
//
// Thread: the fuzzer's thread only.

/// libFuzzer's entry point: one input, checked under two sets of limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessagePack(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    checkMessage(bytes, limits: CodecLimits())
    checkMessage(bytes, limits: CodecLimits(maxDepth: CodecLimits.depthCeiling, maxSize: 1 << 20))
    return 0
}
