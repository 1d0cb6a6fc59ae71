// CLuaShim: what Swift cannot import from Lua's headers, and the one place Lua errors are raised.
//
// Thread: Lua thread only (every function here takes the lua_State of the calling script).
//
// Clang imports no function-like macros, so the ones of Lua's macro API the binding uses (lua_pop,
// LUA_REGISTRYINDEX, ...) are re-exposed here as static inline functions under an `mmnet_` prefix.
// Lua errors longjmp, and a longjmp across Swift frames skips Swift's cleanup; so Swift functions
// never raise: they return a status to `mmnet_trampoline`, which raises the error in C after the
// Swift frame is gone.
#ifndef MMNET_CLUASHIM_H
#define MMNET_CLUASHIM_H

#if __has_include(<lua5.4/lua.h>)
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#else
#include <lua.h>
#include <lauxlib.h>
#endif

/// A Lua function written in Swift. Returns the number of results (>= 0), or a status
/// that makes the trampoline raise an error:
/// - `MMNET_RAISE` (-1): raise the string on top of the stack, prefixed with the caller's position;
/// - `mmnet_argerror_status(arg)`: raise "bad argument #arg to 'fn' (<string on top>)";
/// - `MMNET_RETHROW`: raise the value on top as it is.
typedef int (*mmnet_Function)(lua_State *L);

/// Status for "raise the message on top of the stack".
#define MMNET_RAISE (-1)

/// Status for "argument `arg` is wrong; the reason is the string on top of the stack".
static inline int mmnet_argerror_status(int arg) { return -1 - arg; }

/// Status for "raise the value on top of the stack as it is": an error `mmnet_pcall` caught
/// (Lua's "not enough memory"), passed on to the caller once Swift has returned.
#define MMNET_RETHROW (-1000)

/// Swift code that `mmnet_pcall` runs in protected mode: it may call Lua functions that raise
/// (any that allocates raises a memory error when the host's allocator refuses), because such
/// an error unwinds only its own frames, to `mmnet_pcall`. It must therefore hold no reference
/// counted itself: those would never be released. Returns its number of results.
typedef int (*mmnet_Protected)(lua_State *L, void *context);

/// Runs `f(L, context)` in protected mode, in a call of its own whose arguments are the `nargs`
/// values on top (popped), and leaves its `nresults` results on the stack. Returns LUA_OK, or
/// the error status with the error object on top. Needs three free stack slots.
int mmnet_pcall(lua_State *L, int nargs, mmnet_Protected f, void *context, int nresults);

/// Sets field `name` of the table at the top of the stack to a Lua function calling `f`.
void mmnet_register(lua_State *L, const char *name, mmnet_Function f);


/// The userdata that is argument 1 of the running method when its metatable is the method's
/// upvalue 2 (methods are registered with their type's metatable there); NULL otherwise. A
/// compare with the upvalue where luaL_testudata looks the metatable up in the registry.
void *mmnet_testself(lua_State *L);

/// Like `mmnet_register`, for a table just below the top: the value on top (popped) becomes
/// the function's upvalue 2, which `f` reads with `lua_upvalueindex(2)`.
void mmnet_register_with_upvalue(lua_State *L, const char *name, mmnet_Function f);

/// A unique address used as the registry key (lua_rawgetp) of mmnet's per-state data.
const void *mmnet_registry_key(void);

/// A unique address used as the registry key of the weak table mapping object ids to objects.
const void *mmnet_identity_key(void);

/// A unique address used as the registry key of the table keeping lent strings reachable.
const void *mmnet_loans_key(void);

// ---- Lua's function-like macros, as functions -------------------------------------------------

/// LUA_REGISTRYINDEX.
static inline int mmnet_registryindex(void) { return LUA_REGISTRYINDEX; }
/// lua_upvalueindex(i).
static inline int mmnet_upvalueindex(int i) { return lua_upvalueindex(i); }
/// lua_pop(L, n).
static inline void mmnet_pop(lua_State *L, int n) { lua_pop(L, n); }
/// lua_remove(L, idx).
static inline void mmnet_remove(lua_State *L, int idx) { lua_remove(L, idx); }
/// luaL_getmetatable(L, name).
static inline int mmnet_getmetatable(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }

#endif
