/* bench/codec_floor.c: the floor of any Lua table codec written against Lua's C API, for
 * `make bench-codec`. `floor.encode(t)` walks a flat table with lua_next and writes MessagePack
 * into a stack buffer, then pushes it with lua_pushlstring; `floor.decode(s)` reads a flat map
 * back with lua_createtable, lua_pushlstring / lua_pushinteger / lua_pushnumber and
 * lua_rawset. Those are the calls every C codec must make for such a table; this one does
 * nothing else: no UTF-8 check (every string is a str), no nesting, no cycle or depth check,
 * no size limit beyond its 512-byte buffer, no key cache. mmnet's Encode and Decode do all of
 * those, so the ratio of their time to this one's says how much of their cost is their own.
 *
 * Thread: the Lua thread of the benchmark script.
 *
 * Build: cc -O2 -shared -fPIC -I/usr/include/lua5.4 -o codec_floor.so codec_floor.c
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <string.h>

/* Room for one flat message; longer ones are refused. */
#define FLOOR_BUFFER 512

typedef struct {
    unsigned char bytes[FLOOR_BUFFER];
    size_t used;
} floor_buffer;

static int floor_put(floor_buffer *b, const void *bytes, size_t count) {
    if (count > FLOOR_BUFFER - b->used) return 0;
    memcpy(b->bytes + b->used, bytes, count);
    b->used += count;
    return 1;
}

static int floor_put_byte(floor_buffer *b, unsigned char byte) { return floor_put(b, &byte, 1); }

/* The value at `index`, as MessagePack; 0 for a type or size it does not take. */
static int floor_put_value(lua_State *L, int index, floor_buffer *b) {
    switch (lua_type(L, index)) {
    case LUA_TSTRING: {
        size_t length;
        const char *s = lua_tolstring(L, index, &length);
        if (length < 32) {
            if (!floor_put_byte(b, (unsigned char)(0xa0 | length))) return 0;
        } else if (length < 256) {
            unsigned char header[2] = {0xd9, (unsigned char)length};
            if (!floor_put(b, header, 2)) return 0;
        } else {
            return 0;
        }
        return floor_put(b, s, length);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, index)) {
            lua_Integer n = lua_tointeger(L, index);
            if (n >= 0 && n < 128) return floor_put_byte(b, (unsigned char)n);
            /* The smallest unsigned form (as mmnet writes); int64 for a negative number. */
            int size = n < 0 || n > 0xffffffff ? 8 : n > 0xffff ? 4 : n > 0xff ? 2 : 1;
            unsigned char header[9] = {n < 0 ? 0xd3 : size == 8 ? 0xcf : size == 4 ? 0xce : size == 2 ? 0xcd : 0xcc};
            uint64_t u = (uint64_t)n;
            for (int i = 0; i < size; i++) header[1 + i] = (unsigned char)(u >> (8 * (size - 1 - i)));
            return floor_put(b, header, 1 + (size_t)size);
        } else {
            double d = lua_tonumber(L, index);
            uint64_t u;
            memcpy(&u, &d, 8);
            unsigned char header[9] = {0xcb};
            for (int i = 0; i < 8; i++) header[1 + i] = (unsigned char)(u >> (56 - 8 * i));
            return floor_put(b, header, 9);
        }
    case LUA_TBOOLEAN:
        return floor_put_byte(b, lua_toboolean(L, index) ? 0xc3 : 0xc2);
    default:
        return 0;
    }
}

static int floor_encode(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    floor_buffer b = {.used = 1};
    int pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (pairs == 15 || !floor_put_value(L, -2, &b) || !floor_put_value(L, -1, &b)) {
            return luaL_error(L, "codec_floor: only flat tables of up to 15 scalars");
        }
        pairs++;
        lua_pop(L, 1);
    }
    b.bytes[0] = (unsigned char)(0x80 | pairs);
    lua_pushlstring(L, (const char *)b.bytes, b.used);
    return 1;
}

/* Pushes the value at `*p` and advances it; 0 for a marker it does not take or a short input. */
static int floor_push_value(lua_State *L, const unsigned char **p, const unsigned char *end) {
    if (*p >= end) return 0;
    unsigned char marker = *(*p)++;
    if (marker < 0x80) {
        lua_pushinteger(L, marker);
        return 1;
    }
    size_t length;
    if ((marker & 0xe0) == 0xa0) {
        length = marker & 0x1f;
    } else if (marker == 0xd9) {
        if (*p >= end) return 0;
        length = *(*p)++;
    } else if (marker == 0xcc || marker == 0xcd || marker == 0xce) {
        int size = marker == 0xcc ? 1 : marker == 0xcd ? 2 : 4;
        if (end - *p < size) return 0;
        lua_Integer n = 0;
        for (int i = 0; i < size; i++) n = n << 8 | (*p)[i];
        *p += size;
        lua_pushinteger(L, n);
        return 1;
    } else if (marker == 0xd3 || marker == 0xcf || marker == 0xcb) {
        if (end - *p < 8) return 0;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | (*p)[i];
        *p += 8;
        if (marker != 0xcb) {
            lua_pushinteger(L, (lua_Integer)u);
        } else {
            double d;
            memcpy(&d, &u, 8);
            lua_pushnumber(L, d);
        }
        return 1;
    } else if (marker == 0xc2 || marker == 0xc3) {
        lua_pushboolean(L, marker == 0xc3);
        return 1;
    } else {
        return 0;
    }
    if ((size_t)(end - *p) < length) return 0;
    lua_pushlstring(L, (const char *)*p, length);
    *p += length;
    return 1;
}

static int floor_decode(lua_State *L) {
    size_t length;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &length);
    const unsigned char *end = p + length;
    if (length == 0 || (*p & 0xf0) != 0x80) return luaL_error(L, "codec_floor: not a small map");
    int pairs = *p++ & 0x0f;
    lua_createtable(L, 0, pairs);
    for (int i = 0; i < pairs; i++) {
        if (!floor_push_value(L, &p, end) || !floor_push_value(L, &p, end)) {
            return luaL_error(L, "codec_floor: malformed input");
        }
        lua_rawset(L, -3);
    }
    if (p != end) return luaL_error(L, "codec_floor: trailing bytes");
    return 1;
}

int luaopen_codec_floor(lua_State *L) {
    luaL_Reg functions[] = {{"encode", floor_encode}, {"decode", floor_decode}, {NULL, NULL}};
    luaL_newlib(L, functions);
    return 1;
}
