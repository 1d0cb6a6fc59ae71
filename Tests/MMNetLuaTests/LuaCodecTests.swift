// Tests of the binding's codec entry points that the networking code calls: withEncodedTable
// (headroom, limits, stack balance) and pushDecodedValue (one value or nothing), on a real Lua state.
//
// Thread: test runner thread (each test owns its lua_State).
import CLuaShim
import MMNetCore
import XCTest
@testable import MMNetLua

final class LuaCodecTests: LuaStateTestCase {
    /// Runs `chunk` and leaves its single result on the stack.
    private func push(_ chunk: String) {
        XCTAssertEqual(luaL_loadstring(L, chunk), LUA_OK)
        XCTAssertEqual(lua_pcallk(L, 0, 1, 0, 0, nil), LUA_OK)
    }

    private func hex(_ data: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        return String(data.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    func testHeadroomIsReservedAndNotCountedInTheLimit() throws {
        push("return {OpCode = 10}")
        let top = lua_gettop(L)
        let bytes = try withEncodedTable(L, at: -1, rootName: "packet", limits: CodecLimits(), headroom: 8, pool: nil, { $0.makeArray() }).get()
        XCTAssertEqual(lua_gettop(L), top)
        XCTAssertEqual(hex(bytes), "0000000000000000" + "81a64f70436f64650a")
        // 9 bytes of MessagePack fit a 9-byte limit whatever the headroom.
        XCTAssertNoThrow(try withEncodedTable(L, at: top, rootName: "packet", limits: CodecLimits(maxSize: 9), headroom: 100, pool: nil, { $0.makeArray() }).get())
        let refused = withEncodedTable(L, at: top, rootName: "packet", limits: CodecLimits(maxSize: 8), headroom: 100, pool: nil, { $0.makeArray() })
        XCTAssertEqual(try? refused.get(), nil)
        if case .failure(let error) = refused {
            XCTAssertEqual(error.message, "packet: encoded message is larger than the limit of 8 bytes (reached at packet.OpCode)")
        }
        XCTAssertEqual(lua_gettop(L), top)
    }

    func testFailuresNameThePacketAndLeaveTheStackAlone() {
        push("local t = {list = {1, 2, {f = function() end}}} return t")
        lua_pushinteger(L, 99)   // the table is not on top
        let top = lua_gettop(L)
        let result = withEncodedTable(L, at: -2, rootName: "packet", limits: CodecLimits(), headroom: 4, pool: nil, { $0.makeArray() })
        guard case .failure(let error) = result else { return XCTFail("accepted") }
        XCTAssertEqual(error.message, "packet.list[3].f: function values cannot be sent")
        XCTAssertEqual(lua_gettop(L), top)
        XCTAssertEqual(lua_tointegerx(L, -1, nil), 99)
        guard case .failure(let notTable) = withEncodedTable(L, at: -1, rootName: "packet", limits: CodecLimits(), headroom: 0, pool: nil, { $0.makeArray() })
        else { return XCTFail("accepted a number") }
        XCTAssertEqual(notTable.message, "packet: a table is expected, got number")
    }

    func testDepthLimitFromTheLimits() {
        push("return {{{{1}}}}")
        let top = lua_gettop(L)
        XCTAssertNoThrow(try withEncodedTable(L, at: top, rootName: "t", limits: CodecLimits(maxDepth: 4), headroom: 0, pool: nil, { $0.makeArray() }).get())
        guard case .failure(let error) = withEncodedTable(L, at: top, rootName: "t", limits: CodecLimits(maxDepth: 3), headroom: 0, pool: nil, { $0.makeArray() })
        else { return XCTFail("accepted") }
        XCTAssertEqual(error.message, "t[1][1][1]: tables nested deeper than 3 levels cannot be sent")
    }

    func testNestingAtTheCeilingRoundTrips() throws {
        push("local root = {} local t = root for i = 2, 1000 do t[1] = {}; t = t[1] end return root")
        let top = lua_gettop(L)
        let limits = CodecLimits(maxDepth: 1_000_000)
        let bytes = try withEncodedTable(L, at: top, rootName: "t", limits: limits, headroom: 0, pool: nil, { $0.makeArray() }).get()
        XCTAssertEqual(lua_gettop(L), top)
        XCTAssertNil(bytes.withUnsafeBytes { pushDecodedValue(L, $0, limits: limits) })
        XCTAssertEqual(lua_gettop(L), top + 1)
        push("local root = {} local t = root for i = 2, 1001 do t[1] = {}; t = t[1] end return root")
        guard case .failure(let error) = withEncodedTable(L, at: -1, rootName: "t", limits: limits, headroom: 0, pool: nil, { $0.makeArray() })
        else { return XCTFail("accepted 1001 levels") }
        XCTAssertTrue(error.message.hasSuffix("tables nested deeper than 1000 levels cannot be sent"))
    }

    func testDecodePushesExactlyOneValueOrNothing() {
        let top = lua_gettop(L)
        let good: [UInt8] = [0x82, 0xA1, 0x61, 0x01, 0xA1, 0x62, 0x92, 0xC3, 0xC0]
        XCTAssertNil(good.withUnsafeBytes { pushDecodedValue(L, $0, limits: CodecLimits()) })
        XCTAssertEqual(lua_gettop(L), top + 1)
        XCTAssertEqual(lua_type(L, -1), LUA_TTABLE)
        mmnet_pop(L, 1)
        // Fails deep inside, after tables were created: the stack must be exactly as before.
        let bad: [UInt8] = [0x92, 0x81, 0xA1, 0x61, 0x91, 0x91, 0x01, 0x81, 0xC0, 0x01]
        let error = bad.withUnsafeBytes { pushDecodedValue(L, $0, limits: CodecLimits()) }
        XCTAssertEqual(error?.message, "malformed message: nil map key at byte 8")
        XCTAssertEqual(lua_gettop(L), top)
        let deep = [UInt8](repeating: 0x91, count: 200) + [0x01]
        XCTAssertNil(deep.withUnsafeBytes { pushDecodedValue(L, $0, limits: CodecLimits(maxDepth: 200)) })
        XCTAssertEqual(lua_gettop(L), top + 1)
    }

    func testEncodeThenValidateThenDecode() throws {
        push("return {OpCode = 10, Data = 'From server', Seq = 1, list = {1.5, true, 'x'}}")
        let bytes = try withEncodedTable(L, at: -1, rootName: "packet", limits: CodecLimits(), headroom: 5, pool: nil, { $0.makeArray() }).get()
        let body = Array(bytes[5...])
        XCTAssertNil(body.withUnsafeBytes { MessagePackValidator.validate($0, limits: CodecLimits()) })
        XCTAssertNil(body.withUnsafeBytes { pushDecodedValue(L, $0, limits: CodecLimits()) })
        XCTAssertEqual(lua_getfield(L, -1, "Data"), LUA_TSTRING)
        XCTAssertEqual(String(cString: lua_tolstring(L, -1, nil)), "From server")
    }
}
