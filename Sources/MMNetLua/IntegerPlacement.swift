// Which of Lua 5.4's two placements of integer keys the running Lua uses, found once a state
// opens the module, for the validator's count of colliding keys (`LuaIntegerPlacement`).
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Finds how this Lua places integer keys in a table's hash part and records it for the
/// process: a table of 4 nodes gets the keys 8 then 4. By their low bits both go to node 0, so 4
/// takes the free node Lua finds from the end and `lua_next` meets 8 first; modulo 3, 4 goes
/// to node 1 and 8 to node 2, and `lua_next` meets 4 first.
func findIntegerPlacement(_ L: OpaquePointer) {
    guard LuaIntegerPlacement.current == .unknown else { return }
    lua_createtable(L, 0, 4)
    lua_pushboolean(L, 1)
    lua_rawseti(L, -2, 8)
    lua_pushboolean(L, 1)
    lua_rawseti(L, -2, 4)
    lua_pushnil(L)
    if lua_next(L, -2) != 0 {
        let first = lua_tointegerx(L, -2, nil)
        mmnet_pop(L, 2)
        LuaIntegerPlacement.current = first == 8 ? .lowBits : .modulo
    }
    mmnet_pop(L, 1)
}
