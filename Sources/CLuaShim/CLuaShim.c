// CLuaShim: the trampoline that turns a Swift function's status into a Lua error, in C.
//
// Thread: Lua thread only.
#include "CLuaShim.h"

/// Calls the Swift function in upvalue 1; raises its error, if any, once Swift has returned.
static int mmnet_trampoline(lua_State *L) {
    mmnet_Function f = (mmnet_Function)lua_touserdata(L, lua_upvalueindex(1));
    int n = f(L);
    if (n >= 0) return n;
    if (n == MMNET_RETHROW) return lua_error(L);
    if (n == MMNET_RAISE) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    return luaL_argerror(L, -1 - n, lua_tostring(L, -1));
}

/// The function `mmnet_pcall` calls: its arguments, then the Swift code and its context.
static int mmnet_protected(lua_State *L) {
    int top = lua_gettop(L);
    mmnet_Protected f = (mmnet_Protected)lua_touserdata(L, top - 1);
    void *context = lua_touserdata(L, top);
    lua_settop(L, top - 2);
    return f(L, context);
}

int mmnet_pcall(lua_State *L, int nargs, mmnet_Protected f, void *context, int nresults) {
    lua_pushcfunction(L, mmnet_protected);
    lua_insert(L, -1 - nargs);
    lua_pushlightuserdata(L, (void *)f);
    lua_pushlightuserdata(L, context);
    return lua_pcall(L, nargs + 2, nresults, 0);
}

/// Pushes a Lua function that calls `f` through the trampoline.
static void mmnet_pushfunction(lua_State *L, mmnet_Function f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, mmnet_trampoline, 1);
}

void mmnet_register(lua_State *L, const char *name, mmnet_Function f) {
    mmnet_pushfunction(L, f);
    lua_setfield(L, -2, name);
}

void *mmnet_testself(lua_State *L) {
    /* A full userdata only: a light userdata given the metatable (debug.setmetatable) is no
       block of ours (reading one as such crashed). */
    if (lua_type(L, 1) != LUA_TUSERDATA) return NULL;
    void *block = lua_touserdata(L, 1);
    if (!lua_getmetatable(L, 1)) return NULL;
    int same = lua_rawequal(L, -1, lua_upvalueindex(2));
    lua_pop(L, 1);
    return same ? block : NULL;
}

void mmnet_register_with_upvalue(lua_State *L, const char *name, mmnet_Function f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_insert(L, -2);
    lua_pushcclosure(L, mmnet_trampoline, 2);
    lua_setfield(L, -2, name);
}

static const char registry_key = 0;
static const char identity_key = 0;
static const char loans_key = 0;

const void *mmnet_registry_key(void) { return &registry_key; }

const void *mmnet_identity_key(void) { return &identity_key; }

const void *mmnet_loans_key(void) { return &loans_key; }
