/* host: a C program embedding Lua the way an MM host does, to test that mmnet loads into and
 * unloads from a host cleanly: Lua states that `require "mmnet"` are opened and closed many
 * times, several at once, closed in different orders, and on their own threads.
 *
 *   host [--states N] [--rounds R] [--threads] [--steps S] [--poison] [--memory-limit BYTES]
 *        (SCRIPT.lua | -e CHUNK)
 *
 * Every round opens N states (luaL_openlibs; LUA_PATH / LUA_CPATH from the environment), sets
 * the globals STATE_INDEX (1..N), STATE_COUNT and ROUND (1..R) in each, and runs the chunk in
 * each. If a chunk leaves a global function STEP, the host then calls STEP() in every state in
 * turn until each has returned a false value (at most S calls each; more is an error): states
 * can carry traffic to each other from one thread. Then the states are closed: in the order
 * opened (round 1, 4, ...), in reverse (round 2, ...), or odd indexes first (round 3, ...).
 * With --threads, each state lives on its own pthread instead: all N open and run at the same
 * time, wait for each other (time-limited barrier), then close.
 *
 * With --poison, the states' allocator overwrites every block Lua frees (0xDB bytes) before
 * freeing it, as reused memory would be: a library still reading a string Lua has freed reads
 * the poison.
 *
 * With --memory-limit, each state's allocator refuses a request that would take the state's
 * memory past BYTES (Lua then raises "not enough memory"), as a host that caps a script's
 * memory does; the global MEMORY_LIMIT holds it, the function MEMORY_USED() returns the
 * bytes in use, and SET_MEMORY_LIMIT(bytes) changes the state's cap (a script makes the next
 * allocations fail with it, one after another, by setting it just above what it uses).
 *
 * Every state also gets the global HOST (tests/host/process.c): fork, wait for a child, _exit,
 * a signalfd, raise a signal, wait for a readable descriptor, read the bytes malloc has in use.
 *
 * Exit status 0 on success; 1 with a message on stderr on any Lua error; 2 on bad usage.
 *
 * Threads: main thread only without --threads; with it, one pthread per state runs that state
 * from luaL_newstate to lua_close (a Lua state is never touched by two threads), and the main
 * thread only starts and joins them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "process.h"

/* Seconds a thread waits at the barrier for the others before giving up. */
#define BARRIER_TIMEOUT_SECONDS 30

/* What the command line asked for. */
struct options {
    int states;          /* states open at once */
    int rounds;          /* times the whole open/run/close cycle repeats */
    int threads;         /* 1: one pthread per state */
    long steps;          /* most STEP() calls per state */
    const char *script;  /* file name, or the chunk itself when inline */
    int inline_chunk;    /* 1: script is a chunk given with -e */
    int poison;          /* 1: freed blocks are overwritten first */
    size_t memory_limit; /* bytes a state may hold; 0: no limit */
};

static struct options opts = { 1, 1, 0, 100000, NULL, 0, 0, 0 };

/* Prints usage and exits with status 2. */
static void usage(const char *why) {
    fprintf(stderr, "host: %s\nusage: host [--states N] [--rounds R] [--threads] [--steps S] "
            "[--poison] [--memory-limit BYTES] (SCRIPT.lua | -e CHUNK)\n", why);
    exit(2);
}

/* Reads a positive integer option value, or exits through usage(). */
static long positive(const char *text) {
    char *end;
    long n = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n <= 0) usage("expected a positive number");
    return n;
}

/* Fills `opts` from the command line. */
static void parse(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--states") == 0 && has_value) opts.states = (int)positive(argv[++i]);
        else if (strcmp(a, "--rounds") == 0 && has_value) opts.rounds = (int)positive(argv[++i]);
        else if (strcmp(a, "--steps") == 0 && has_value) opts.steps = positive(argv[++i]);
        else if (strcmp(a, "--threads") == 0) opts.threads = 1;
        else if (strcmp(a, "--poison") == 0) opts.poison = 1;
        else if (strcmp(a, "--memory-limit") == 0 && has_value) opts.memory_limit = (size_t)positive(argv[++i]);
        else if (strcmp(a, "-e") == 0 && has_value) { opts.script = argv[++i]; opts.inline_chunk = 1; }
        else if (a[0] != '-' && opts.script == NULL) opts.script = a;
        else usage("bad argument");
    }
    if (opts.script == NULL) usage("no script");
}

/* Reports the error message on top of L's stack for state `index`, and pops it. */
static void report(lua_State *L, int index, const char *what) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "host: state %d, %s: %s\n", index, what, msg ? msg : "(error object)");
    lua_pop(L, 1);
}

/* A message handler that adds a traceback to an error. */
static int traceback(lua_State *L) {
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

/* Calls the function on top of the stack with a traceback handler. Returns a lua_pcall status. */
static int call(lua_State *L, int nresults) {
    int base = lua_gettop(L);
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, 0, nresults, base);
    lua_remove(L, base);  /* the handler; results or the message stay on top */
    return status;
}

/* The bytes one state's allocator has handed out (its `ud`), and the most it may. */
struct usage {
    size_t used;
    size_t limit; /* 0: no limit */
};

/* The allocator of --poison and --memory-limit: realloc and free, counting the bytes in use;
 * a request past the limit fails (NULL; a shrinking one never does), and with --poison every
 * freed block (or the part a shrinking block gives up) is overwritten first. */
static void *state_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct usage *usage = ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize > old && usage->limit != 0 && usage->used - old + nsize > usage->limit) return NULL;
    if (opts.poison && ptr != NULL && nsize < osize) memset((char *)ptr + nsize, 0xDB, osize - nsize);
    if (nsize == 0) {
        free(ptr);
        usage->used -= old;
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block != NULL) usage->used = usage->used - old + nsize;
    return block;
}

/* MEMORY_USED(): the bytes the calling state holds (--memory-limit). */
static int memory_used(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    lua_pushinteger(L, (lua_Integer)((struct usage *)ud)->used);
    return 1;
}

/* SET_MEMORY_LIMIT(bytes): the calling state's cap from now on (--memory-limit). */
static int set_memory_limit(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    ((struct usage *)ud)->limit = (size_t)luaL_checkinteger(L, 1);
    return 0;
}

/* Closes a state opened by open_state, and frees its allocator's count if it has one. */
static void close_state(lua_State *L) {
    void *ud = NULL;
    int counted = lua_getallocf(L, &ud) == state_alloc;
    lua_close(L);
    if (counted) free(ud);
}

/* Opens state `index` of round `round` and runs the chunk in it. Returns it, or NULL after
 * reporting an error (the state is then closed). */
static lua_State *open_state(int index, int round) {
    lua_State *L;
    if (opts.poison || opts.memory_limit != 0) {
        struct usage *usage = calloc(1, sizeof *usage);
        if (usage != NULL) usage->limit = opts.memory_limit;
        L = usage != NULL ? lua_newstate(state_alloc, usage) : NULL;
        if (L == NULL) free(usage);
    } else {
        L = luaL_newstate();
    }
    if (L == NULL) { fprintf(stderr, "host: state %d: out of memory\n", index); return NULL; }
    luaL_openlibs(L);
    host_register_process(L);
    if (opts.memory_limit != 0) {
        lua_pushinteger(L, (lua_Integer)opts.memory_limit);
        lua_setglobal(L, "MEMORY_LIMIT");
        lua_pushcfunction(L, memory_used);
        lua_setglobal(L, "MEMORY_USED");
        lua_pushcfunction(L, set_memory_limit);
        lua_setglobal(L, "SET_MEMORY_LIMIT");
    }
    lua_pushinteger(L, index);
    lua_setglobal(L, "STATE_INDEX");
    lua_pushinteger(L, opts.states);
    lua_setglobal(L, "STATE_COUNT");
    lua_pushinteger(L, round);
    lua_setglobal(L, "ROUND");
    int status = opts.inline_chunk ? luaL_loadbuffer(L, opts.script, strlen(opts.script), "=(-e)")
                                   : luaL_loadfile(L, opts.script);
    if (status != LUA_OK) { report(L, index, "loading the script"); close_state(L); return NULL; }
    if (call(L, 0) != LUA_OK) { report(L, index, "running the script"); close_state(L); return NULL; }
    return L;
}

/* Calls the global STEP of L once if there is one. Returns 1 if it asks to be called again,
 * 0 when done (or no STEP), -1 after reporting an error. */
static int step(lua_State *L, int index) {
    if (lua_getglobal(L, "STEP") != LUA_TFUNCTION) { lua_pop(L, 1); return 0; }
    if (call(L, 1) != LUA_OK) { report(L, index, "in STEP"); return -1; }
    int again = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return again;
}

/* Calls STEP in every state in turn until all are done. Returns 0, or -1 after an error. */
static int run_steps(lua_State **states, int n) {
    char *done = calloc((size_t)n, 1);
    if (done == NULL) return -1;
    int result = 0, remaining = n;
    for (long turn = 0; remaining > 0 && result == 0; turn++) {
        if (turn >= opts.steps) {
            fprintf(stderr, "host: STEP still running after %ld calls\n", opts.steps);
            result = -1;
            break;
        }
        for (int i = 0; i < n && result == 0; i++) {
            if (done[i]) continue;
            int again = step(states[i], i + 1);
            if (again < 0) result = -1;
            else if (!again) { done[i] = 1; remaining--; }
        }
    }
    free(done);
    return result;
}

/* Index (0-based) of the state to close `k`-th in round `round`: in order, reverse, odd first. */
static int close_order(int k, int n, int round) {
    switch ((round - 1) % 3) {
    case 0: return k;
    case 1: return n - 1 - k;
    default: {
        int odd = (n + 1) / 2;  /* 0-based even positions hold STATE_INDEX 1, 3, 5, ... */
        return k < odd ? 2 * k : 2 * (k - odd) + 1;
    }
    }
}

/* One round on the main thread: open all states, step them, close them. Returns 0 or -1. */
static int sequential_round(int round) {
    lua_State **states = calloc((size_t)opts.states, sizeof *states);
    if (states == NULL) return -1;
    int result = 0;
    for (int i = 0; i < opts.states && result == 0; i++) {
        states[i] = open_state(i + 1, round);
        if (states[i] == NULL) result = -1;
    }
    if (result == 0) result = run_steps(states, opts.states);
    for (int k = 0; k < opts.states; k++) {
        int i = close_order(k, opts.states, round);
        if (states[i] != NULL) close_state(states[i]);
    }
    free(states);
    return result;
}

/* A barrier whose wait gives up after BARRIER_TIMEOUT_SECONDS. */
struct barrier {
    pthread_mutex_t lock;
    pthread_cond_t all_here;
    int waiting, count;
};

/* Waits until `count` threads have arrived. Returns 0, or -1 on timeout. */
static int barrier_wait(struct barrier *b) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += BARRIER_TIMEOUT_SECONDS;
    int result = 0;
    pthread_mutex_lock(&b->lock);
    if (++b->waiting >= b->count) pthread_cond_broadcast(&b->all_here);
    while (b->waiting < b->count && result == 0) {
        if (pthread_cond_timedwait(&b->all_here, &b->lock, &deadline) == ETIMEDOUT) result = -1;
    }
    pthread_mutex_unlock(&b->lock);
    return result;
}

/* What one state's thread is given, and what it reports. */
struct worker {
    pthread_t thread;
    int index, round, result;
    struct barrier *barrier;
};

/* Thread body: one state from open to close, meeting the other threads while all are open. */
static void *worker_main(void *arg) {
    struct worker *w = arg;
    lua_State *L = open_state(w->index, w->round);
    w->result = L == NULL ? -1 : 0;
    if (L != NULL) w->result = run_steps(&L, 1);
    if (barrier_wait(w->barrier) != 0) {
        fprintf(stderr, "host: state %d: other threads did not arrive within %d s\n",
                w->index, BARRIER_TIMEOUT_SECONDS);
        w->result = -1;
    }
    if (L != NULL) close_state(L);
    return NULL;
}

/* One round with one pthread per state. Returns 0 or -1. */
static int threaded_round(int round) {
    struct barrier b = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, opts.states };
    struct worker *workers = calloc((size_t)opts.states, sizeof *workers);
    if (workers == NULL) return -1;
    int started = 0, result = 0;
    for (int i = 0; i < opts.states; i++) {
        workers[i] = (struct worker){ .index = i + 1, .round = round, .barrier = &b };
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "host: pthread_create failed\n");
            pthread_mutex_lock(&b.lock);
            b.count = started;  /* let the threads already started pass the barrier */
            pthread_cond_broadcast(&b.all_here);
            pthread_mutex_unlock(&b.lock);
            result = -1;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        if (workers[i].result != 0) result = -1;
    }
    free(workers);
    return result;
}

int main(int argc, char **argv) {
    parse(argc, argv);
    for (int round = 1; round <= opts.rounds; round++) {
        int status = opts.threads ? threaded_round(round) : sequential_round(round);
        if (status != 0) {
            fprintf(stderr, "host: failed in round %d\n", round);
            return 1;
        }
    }
    printf("host: %d round(s) of %d state(s)%s: OK\n", opts.rounds, opts.states,
           opts.threads ? " on their own threads" : "");
    return 0;
}
