// Tests of LuaKeyChains and the reader's refusal of number keys chosen to collide in Lua's
// tables: integers in both of Lua 5.4's placements, floats through l_hashfloat, the budget
// shared by all the maps of a message; and keys of the usual shapes accepted.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class LuaKeyChainsTests: XCTestCase {
    /// A map16 of `keys`, each encoded by `key`, every value 1.
    private func map(_ keys: [Double], float: Bool) -> [UInt8] {
        var out: [UInt8] = [0xDE, UInt8(keys.count >> 8), UInt8(keys.count & 0xFF)]
        for key in keys {
            if float {
                out.append(0xCB)
                out += withUnsafeBytes(of: key.bitPattern.bigEndian, Array.init)
            } else {
                out.append(0xD3)
                out += withUnsafeBytes(of: Int64(key).bigEndian, Array.init)
            }
            out.append(0x01)
        }
        return out
    }

    private func validate(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { MessagePackValidator.validate($0, limits: CodecLimits())?.message }
    }

    /// 20,000 keys make a hash part of 32,768 nodes.
    private let count = 20_000

    func testIntegersInOneBucketOfLua544AndLaterAreRefused() {
        // 5.4.4+: key % 32767.
        let why = validate(map((1...count).map { Double($0 * 32_767) }, float: false))
        XCTAssertNotNil(why)
        XCTAssertTrue(why?.hasPrefix("message refused: its number keys collide in Lua's tables (more than 16777216") ?? false, why ?? "")
    }

    func testIntegersInOneBucketOfLua540To543AreRefused() {
        // 5.4.0 to 5.4.3: key & 32767.
        XCTAssertNotNil(validate(map((1...count).map { Double($0 * 32_768) }, float: false)))
    }

    func testFloatsInOneBucketAreRefused() {
        // frexp gives exponent 1 and mantissa (2^30 + 32767 j) / 2^31: l_hashfloat is
        // 1 + 2^30 + 32767 j, one bucket modulo 32767.
        let keys = (1...count).map { (Double(1 << 30) + Double($0 * 32_767)) / Double(1 << 30) }
        XCTAssertNotNil(validate(map(keys, float: true)))
        XCTAssertEqual(LuaKeyChains.floatHash(keys[0]), 1 + (1 << 30) + 32_767)
        XCTAssertEqual(LuaKeyChains.floatHash(.infinity), 0)
    }

    func testKeysOfTheUsualShapesAreAccepted() {
        XCTAssertNil(validate(map((1...count).map { Double($0) }, float: false)), "1...n")
        XCTAssertNil(validate(map((1...count).map { Double($0 * 1000) }, float: false)), "a stride")
        var seed: UInt64 = 42
        let random = (1...count).map { _ -> Double in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(Int64(truncatingIfNeeded: seed >> 20))
        }
        XCTAssertNil(validate(map(random, float: false)), "random integers")
        XCTAssertNil(validate(map((1...count).map { Double($0) + 0.5 }, float: true)), "floats")
        XCTAssertNil(validate(map((1...count).map { Double($0) }, float: true)), "integral floats, stored as integers")
    }

    func testTheBudgetCoversAllTheMapsOfAMessage() {
        // 4,000 maps of 100 keys in one bucket: 4,950 probes each, 19.8 million in all.
        let one = map((1...100).map { Double($0 * 127) }, float: false)
        var message: [UInt8] = [0xDD, 0, 0, 0x0F, 0xA0]
        for _ in 0..<4_000 { message += one }
        XCTAssertNotNil(validate(message))
        // 3,000 of them (14.9 million) pass.
        var smaller: [UInt8] = [0xDD, 0, 0, 0x0B, 0xB8]
        for _ in 0..<3_000 { smaller += one }
        XCTAssertNil(validate(smaller))
    }
}
