/* Example: a C host that embeds Lua and drives mmnet from its own loop, as docs/HOST.md
 * describes. It opens a Lua state, runs a script that requires mmnet and defines a global
 * function Frame(), then loops in one of two ways until Frame() returns false:
 *
 *   --frames  a frame loop: every 16 ms (a 60 Hz frame), call Frame(), which pumps
 *             network.PollEvents() without a timeout;
 *   --wake    an idle loop: sleep in poll(2) on network.GetEventDescriptor() and call Frame()
 *             only when events wait (a tool or server that has nothing else to do).
 *
 * Then it closes the state with lua_close, which closes mmnet's objects and, with the last
 * state that uses mmnet, stops its I/O thread.
 *
 *   host_loop (--frames | --wake) SCRIPT.lua
 *
 * Build (static Lua, as tests/host/host.c is built; -Wl,-E exports lua_* to mmnet):
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I/usr/include/lua5.4 -o host_loop \
 *       examples/host_loop.c -Wl,-E -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl -pthread
 * or against the shared Lua library: ... examples/host_loop.c -llua5.4 -lm -ldl -pthread
 *
 * Exit status 0 when the script finished; 1 on a Lua error or when it runs too long.
 *
 * Threads: main thread only (the Lua state is only ever touched from it).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Milliseconds of one frame at 60 Hz. */
#define FRAME_MS 16
/* Most loop turns before the host gives up (a time limit for the example). */
#define MAX_TURNS 1000

/* Calls global `name` with no arguments; returns its first result as a boolean, or -1 after
 * printing the error. */
static int call_global(lua_State *L, const char *name) {
    lua_getglobal(L, name);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "host_loop: %s: %s\n", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    int result = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return result;
}

/* Returns network.GetEventDescriptor() of the state's global `network`, or -1. */
static int event_descriptor(lua_State *L) {
    lua_getglobal(L, "network");
    lua_getfield(L, -1, "GetEventDescriptor");
    if (lua_pcall(L, 0, 2, 0) != LUA_OK || !lua_isinteger(L, -2)) {
        fprintf(stderr, "host_loop: no event descriptor: %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    int fd = (int)lua_tointeger(L, -2);
    lua_pop(L, 3);
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "--frames") != 0 && strcmp(argv[1], "--wake") != 0)) {
        fprintf(stderr, "usage: host_loop (--frames | --wake) SCRIPT.lua\n");
        return 2;
    }
    int wake = strcmp(argv[1], "--wake") == 0;

    lua_State *L = luaL_newstate();
    luaL_openlibs(L);                              /* package.path/cpath from LUA_PATH/LUA_CPATH */
    if (luaL_dofile(L, argv[2]) != LUA_OK) {       /* the script requires mmnet, defines Frame */
        fprintf(stderr, "host_loop: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }

    int status = 1, turns = 0, frames = 0;
    if (!wake) {
        /* Frame loop: the host's own timing; mmnet is pumped once per frame. */
        for (; turns < MAX_TURNS; turns++) {
            poll(NULL, 0, FRAME_MS);               /* stands for rendering a frame */
            frames++;
            int again = call_global(L, "Frame");
            if (again <= 0) { status = again < 0; break; }
        }
    } else {
        /* Idle loop: sleep until mmnet has events (the descriptor is readable), then pump. */
        int fd = event_descriptor(L);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        for (; fd >= 0 && turns < MAX_TURNS; turns++) {
            int ready = poll(&p, 1, 5000);        /* a time limit, not a frame rate */
            if (ready < 0) { perror("host_loop: poll"); break; }
            if (ready == 0) { fprintf(stderr, "host_loop: no events for 5 s\n"); break; }
            frames++;                              /* PollEvents in Frame drains the descriptor */
            int again = call_global(L, "Frame");
            if (again <= 0) { status = again < 0; break; }
        }
    }
    printf("host_loop: %s: Frame() called %d times\n", wake ? "woken by the descriptor" : "frame loop", frames);
    lua_close(L);                                  /* closes mmnet's objects; joins its thread */
    printf("host_loop: Lua state closed\n");
    return status;
}
