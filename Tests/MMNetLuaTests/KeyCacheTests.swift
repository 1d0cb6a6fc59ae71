// Tests of KeyCache: the words that identify a key, and pushes through the cache on a real Lua
// state (hits, misses, keys that evict each other), checked byte for byte.
//
// Thread: test runner thread (each test owns its lua_State).
import CLuaShim
import MMNetCore
import XCTest
@testable import MMNetLua

final class KeyCacheTests: LuaStateTestCase {
    /// The words of `bytes`, read from memory holding exactly those bytes.
    private func words(_ bytes: [UInt8]) -> KeyWords {
        bytes.withUnsafeBytes { KeyWords($0.baseAddress!, count: $0.count) }
    }

    func testEveryByteOfEveryCachedLengthChangesTheWords() {
        for count in 1...KeyCache.maxLength {
            let base = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let reference = words(base)
            for position in 0..<count {
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var changed = base
                    changed[position] ^= flip
                    XCTAssertNotEqual(words(changed), reference, "length \(count), byte \(position) ^ \(flip)")
                }
            }
            XCTAssertEqual(words(base), reference)
        }
    }

    /// Pushes `key` through `pusher` and returns the string Lua got, popping it.
    private func pushed(_ key: [UInt8], _ pusher: KeyPusher) -> [UInt8] {
        key.withUnsafeBytes { pusher.push(L, $0) }
        XCTAssertEqual(lua_type(L, -1), LUA_TSTRING)
        var length = 0
        let bytes = lua_tolstring(L, -1, &length)!
        let copy = Array(UnsafeRawBufferPointer(start: bytes, count: length))
        mmnet_pop(L, 1)
        return copy
    }

    func testPushesGiveTheExactBytesThroughHitsMissesAndEvictions() {
        let cache = KeyCache()
        KeyCache.pushTable(L)
        let pusher = cache.pusher(table: lua_gettop(L))
        let top = lua_gettop(L)
        // Far more keys than slots, so that slots are shared; every length from 0 to past the
        // cached ones; keys that differ in one byte only, embedded zeros and non-UTF-8 bytes.
        var keys: [[UInt8]] = [[], Array(repeating: 0, count: 3), Array(repeating: 0xFF, count: 40)]
        for count in 1...(KeyCache.maxLength + 2) {
            for variant in 0..<24 {
                var key = (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ 65) }
                key[variant % count] = UInt8(truncatingIfNeeded: variant &* 11)
                keys.append(key)
            }
        }
        for round in 0..<3 {
            for key in keys {
                XCTAssertEqual(pushed(key, pusher), key, "round \(round)")
                XCTAssertEqual(lua_gettop(L), top)
            }
        }
        // The same key twice in a row is served from the cache: the very same Lua string.
        let key = Array("OpCode".utf8)
        key.withUnsafeBytes { pusher.push(L, $0) }
        key.withUnsafeBytes { pusher.push(L, $0) }
        XCTAssertEqual(lua_topointer(L, -1), lua_topointer(L, -2))
        mmnet_pop(L, 2)
        // The cache never grows: its table holds strings at slots 1...slotCount only.
        var entries = 0
        lua_pushnil(L)
        while lua_next(L, top) != 0 {
            XCTAssertEqual(lua_isinteger(L, -2), 1)
            XCTAssert((1...lua_Integer(KeyCache.slotCount)).contains(lua_tointegerx(L, -2, nil)))
            entries += 1
            mmnet_pop(L, 1)
        }
        XCTAssertGreaterThan(entries, KeyCache.slotCount / 2)
    }

    func testDecodedMapsGetTheirKeysThroughTheCache() throws {
        let cache = KeyCache()
        KeyCache.pushTable(L)
        let table = lua_gettop(L)
        // {OpCode = 10, Seq = 7}, then {Seq = 8, OpCode = 11}: the second decode hits.
        for (bytes, opCode, seq) in [([0x82, 0xA6] + Array("OpCode".utf8) + [0x0A, 0xA3] + Array("Seq".utf8) + [0x07], 10, 7),
                                     ([0x82, 0xA3] + Array("Seq".utf8) + [0x08, 0xA6] + Array("OpCode".utf8) + [0x0B], 11, 8)] as [([UInt8], Int, Int)] {
            let error = bytes.withUnsafeBytes { pushDecodedValue(L, $0, limits: CodecLimits(), keys: cache.pusher(table: table)) }
            XCTAssertNil(error)
            XCTAssertEqual(lua_getfield(L, -1, "OpCode"), LUA_TNUMBER)
            XCTAssertEqual(lua_tointegerx(L, -1, nil), lua_Integer(opCode))
            XCTAssertEqual(lua_getfield(L, -2, "Seq"), LUA_TNUMBER)
            XCTAssertEqual(lua_tointegerx(L, -1, nil), lua_Integer(seq))
            mmnet_pop(L, 3)
            XCTAssertEqual(lua_gettop(L), table)
        }
    }
}
