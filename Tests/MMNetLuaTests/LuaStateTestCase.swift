// A test case that owns a fresh Lua state for each test.
//
// Thread: test runner thread (each test owns its lua_State).
import CLuaShim
import XCTest

/// Base of the tests that drive the binding on a real Lua state: `L` is new for every test and
/// closed after it.
class LuaStateTestCase: XCTestCase {
    /// The test's Lua state.
    var L: OpaquePointer!

    override func setUp() {
        L = luaL_newstate()
    }

    override func tearDown() { lua_close(L) }
}
