/* process.h: the HOST table of the test host (process.c). Threads: the calling state's. */
#ifndef MMNET_TEST_HOST_PROCESS_H
#define MMNET_TEST_HOST_PROCESS_H
#include <lua.h>

/* Sets the global HOST: fork, wait, exit, signalfd, raise, readable, heap_in_use (see process.c). */
void host_register_process(lua_State *L);
#endif
