/* freed_key.so: an LD_PRELOAD library for spec/encryption_spec.lua that looks into every block
 * the process frees for the raw bytes of a key (MMNET_WATCHED_KEY: 32 hex digits), and reports
 * each such block on stderr ("FREED KEY BYTES <size>"): memory given back to malloc with a key
 * still in it can reach another owner, a core dump or swap.
 *
 * Thread: any (the freeing thread); a thread-local flag keeps its own calls out of the check.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char watched[16];
static int watching = -1; /* -1: not read yet; 0: no key given; 1: watching */
static __thread int inside;

/* Reads MMNET_WATCHED_KEY once. */
static void read_key(void) {
    const char *hex = getenv("MMNET_WATCHED_KEY");
    watching = 0;
    if (hex == NULL || strlen(hex) != 32) return;
    for (int i = 0; i < 16; i++) {
        if (sscanf(hex + 2 * i, "%2hhx", &watched[i]) != 1) return;
    }
    watching = 1;
}

void free(void *block) {
    static void (*next_free)(void *);
    if (next_free == NULL) next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    if (block != NULL && !inside) {
        inside = 1;
        if (watching < 0) read_key();
        size_t size = malloc_usable_size(block);
        if (watching == 1 && memmem(block, size, watched, sizeof watched) != NULL) {
            char line[64];
            int n = snprintf(line, sizeof line, "FREED KEY BYTES %zu\n", size);
            if (write(2, line, (size_t)n) < 0) { /* nothing to do */ }
        }
        inside = 0;
    }
    next_free(block);
}
