/* process.c: the HOST table the test host gives every state, for specs that need what a C
 * host can do and stock Lua cannot: fork, wait for a child, leave without closing the state,
 * take a signal from a signalfd, and wait for a descriptor to become readable.
 *
 *   HOST.fork()                 -> pid in the parent, 0 in the child
 *   HOST.wait(pid, seconds)     -> "exit N" or "signal N"; nil when still running then, after
 *                                  killing it (SIGKILL, reaped): no test leaves a child behind
 *   HOST.exit(code)             -> _exit(code): no lua_close, no atexit handlers
 *   HOST.signalfd(signo)        -> blocks signo in the calling thread; a signalfd for it
 *   HOST.raise(signo)           -> kill(getpid(), signo): to the process, any thread takes it
 *   HOST.readable(fd, seconds)  -> true once fd is readable, false at the time limit
 *   HOST.heap_in_use()          -> bytes of malloc's blocks in use (mallinfo2: what the process
 *                                  holds, whatever the heap's fragmentation keeps mapped)
 *   HOST.nofile([soft])         -> the soft RLIMIT_NOFILE before; sets it to soft when given
 *                                  (poll(2) of more descriptors than it fails with EINVAL)
 *
 * Threads: the calling state's thread.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "process.h"

static int host_fork(lua_State *L) {
    pid_t pid = fork();
    if (pid < 0) return luaL_error(L, "fork failed");
    lua_pushinteger(L, pid);
    return 1;
}

static int host_wait(lua_State *L) {
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    double seconds = luaL_checknumber(L, 2);
    struct timespec step = { 0, 10 * 1000 * 1000 };
    for (double waited = 0; ; waited += 0.01) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            if (WIFEXITED(status)) lua_pushfstring(L, "exit %d", WEXITSTATUS(status));
            else lua_pushfstring(L, "signal %d", WTERMSIG(status));
            return 1;
        }
        if (got < 0) return luaL_error(L, "waitpid failed");
        if (waited >= seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 0;
        }
        nanosleep(&step, NULL);
    }
}

static int host_exit(lua_State *L) {
    _exit((int)luaL_checkinteger(L, 1));
}

static int host_signalfd(lua_State *L) {
    int signo = (int)luaL_checkinteger(L, 1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return luaL_error(L, "pthread_sigmask failed");
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) return luaL_error(L, "signalfd failed");
    lua_pushinteger(L, fd);
    return 1;
}

static int host_raise(lua_State *L) {
    kill(getpid(), (int)luaL_checkinteger(L, 1));
    return 0;
}

static int host_readable(lua_State *L) {
    struct pollfd p = { (int)luaL_checkinteger(L, 1), POLLIN, 0 };
    int n = poll(&p, 1, (int)(luaL_checknumber(L, 2) * 1000));
    lua_pushboolean(L, n == 1 && (p.revents & POLLIN));
    return 1;
}

static int host_heap_in_use(lua_State *L) {
    struct mallinfo2 info = mallinfo2();
    lua_pushinteger(L, (lua_Integer)(info.uordblks + info.hblkhd));
    return 1;
}

static int host_nofile(lua_State *L) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return luaL_error(L, "getrlimit failed");
    lua_pushinteger(L, (lua_Integer)limit.rlim_cur);
    if (!lua_isnoneornil(L, 1)) {
        limit.rlim_cur = (rlim_t)luaL_checkinteger(L, 1);
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return luaL_error(L, "setrlimit failed");
    }
    return 1;
}

void host_register_process(lua_State *L) {
    static const luaL_Reg functions[] = {
        { "fork", host_fork }, { "wait", host_wait }, { "exit", host_exit },
        { "signalfd", host_signalfd }, { "raise", host_raise }, { "readable", host_readable },
        { "heap_in_use", host_heap_in_use }, { "nofile", host_nofile }, { NULL, NULL },
    };
    luaL_newlib(L, functions);
    lua_setglobal(L, "HOST");
}
