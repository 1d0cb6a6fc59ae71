# mmnet: build, install, test and demo.
#
#   make build                 release build of the native library (.build/release/libmmnet.so)
#   make install PREFIX=DIR    DIR/share/lua/5.4/mmnet.lua + DIR/lib/lua/5.4/mmnet/core.so
#   make test                  Debian packages (as root), build, Lua specs, Swift tests
#   make demo                  a server and a client in two lua5.4 processes, printing events
#   make host                  out/host, the C test host that embeds Lua (tests/host/host.c)
#   make bench-codec           Encode/Decode speed against lua-cjson, bare Lua and string.rep
#   make bench-tls             in-memory speed of the TLS engine (handshakes, 40 B and 1 MiB writes)
#   make bench                 the benchmark suite (bench/): out/bench/results.txt, throughput.png
#                              (BENCH_QUICK=1: every workload, briefly)
#   make bench-profile         callgrind of mmnet on workloads 1 and 2: out/bench/profile/*.txt
#   make clean

# The Swift package manager driver.
SWIFT ?= swift
# The Lua interpreter the tests and the demo run (stock Debian lua5.4).
LUA ?= lua5.4
# Directory holding lua.h of Lua 5.4 (LuaRocks passes its own).
LUA_INCDIR ?= /usr/include/lua5.4
# Install prefix for `make install`.
PREFIX ?= /usr/local
# Where `make install` puts the pure-Lua helper (LuaRocks passes its tree's).
LUADIR ?= $(PREFIX)/share/lua/5.4
# Where `make install` puts the native library, as mmnet/core.so (LuaRocks passes its tree's).
LIBDIR ?= $(PREFIX)/lib/lua/5.4
# SwiftPM's folder for release builds.
BUILD_DIR ?= .build/release
# The built native library.
LIBRARY = $(BUILD_DIR)/libmmnet.so
# Flags for the release build: the Swift runtime linked in statically (a host needs no Swift),
# only luaopen_* exported, Lua's headers from LUA_INCDIR. lua_* stay undefined: the host has them.
# No RUNPATH ($ORIGIN): the library needs only system libraries, and ld.so's handling of it
# shows up as invalid reads under valgrind. DWARF 4 debug info: valgrind 3.19 cannot read 5.
# No run-time exclusivity checks (swift_beginAccess on every class property access on the hot
# paths); the debug build of `swift test` keeps them, so a violation still shows up there.
SWIFT_BUILD_FLAGS = -c release -Xswiftc -static-stdlib --disable-local-rpath \
	-Xswiftc -dwarf-version=4 -Xcc -gdwarf-4 -Xswiftc -enforce-exclusivity=unchecked \
	-Xlinker --version-script=$(CURDIR)/build-support/exports.map -Xcc -I$(LUA_INCDIR)
# The C compiler for the test host (tests/host/host.c); not CC, which LuaRocks sets.
HOST_CC ?= gcc
# Its flags: warnings on, Lua 5.4's headers from LUA_INCDIR.
HOST_CFLAGS ?= -O2 -g -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=200809L -I$(LUA_INCDIR)
# The Lua it embeds: static liblua5.4.a, as an MM host may, so the module must find lua_* in
# the executable; -Wl,-E exports them to the libraries it dlopens. (-llua5.4 links the shared one.)
HOST_LUA_LIBS ?= -Wl,-E -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl -pthread
# The test host, built by `make host`.
HOST = $(CURDIR)/out/host
# Scratch tree the tests install into and load from, as a user would.
TEST_TREE ?= $(CURDIR)/out/tree
# Debian packages the tests, the demo and the benchmarks need.
DEBIAN_PACKAGES = lua5.4 liblua5.4-dev libssl-dev openssl lua-busted luarocks python3-msgpack \
	lua-socket lua-cjson lua-luv valgrind gcc make iproute2 binutils gnuplot-nox
# Arguments of bench/codec.lua: iterations of the small-table loop, then rounds (best one kept).
BENCH_ARGS ?= 200000 9
# The Lua search paths that load mmnet from TEST_TREE.
TREE_ENV = LUA_PATH="$(TEST_TREE)/share/lua/5.4/?.lua;$(CURDIR)/spec/?.lua;;" \
	LUA_CPATH="$(TEST_TREE)/lib/lua/5.4/?.so;;" MMNET_TREE="$(TEST_TREE)" MMNET_ROOT="$(CURDIR)" \
	MMNET_HOST="$(HOST)"

# LuaRocks passes CC, CFLAGS, ... for a C build; SwiftPM would hand them to its own clang, so
# they must not reach the swift driver.
unexport CC CXX CFLAGS CXXFLAGS CPPFLAGS LDFLAGS LIBFLAG

.PHONY: all build install uninstall deps host test test-lua test-swift bench bench-profile bench-codec bench-tls demo clean

all: build

# Installs the Debian packages that are missing, when run as root (CI, a fresh machine).
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else echo "missing Debian packages (run as root to install):$$missing"; exit 1; fi; \
	fi

build:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS) --product mmnet

install: build
	install -d $(DESTDIR)$(LUADIR) $(DESTDIR)$(LIBDIR)/mmnet
	install -m 644 lua/mmnet.lua $(DESTDIR)$(LUADIR)/mmnet.lua
	install -m 755 $(LIBRARY) $(DESTDIR)$(LIBDIR)/mmnet/core.so

uninstall:
	rm -f $(DESTDIR)$(LUADIR)/mmnet.lua $(DESTDIR)$(LIBDIR)/mmnet/core.so

# The C program that embeds Lua and opens and closes states that require mmnet.
host: $(HOST)

$(HOST): tests/host/host.c
	mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LUA_LIBS)

# Runs both suites even if the first fails (-k), then prints one summary line.
test: deps
	@$(MAKE) --no-print-directory -k test-lua test-swift; status=$$?; \
	if [ $$status = 0 ]; then echo "make test: PASSED (Lua specs and Swift tests)"; \
	else echo "make test: FAILED"; fi; exit $$status

# The busted specs, through stock lua5.4, against a tree installed as a user would.
test-lua: build host
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) $(LUA) /usr/bin/busted --lpath="$(CURDIR)/spec/?.lua" spec

# The Swift unit tests of the core.
test-swift:
	$(SWIFT) test -Xcc -I$(LUA_INCDIR)

# The codec benchmark (figures only, not a timed test), against a tree installed as for the tests.
bench-codec: build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) $(LUA) bench/codec.lua $(BENCH_ARGS)
# Prints figures; asserts nothing about speed.
bench-tls:
	$(SWIFT) run -c release TLSBench

demo: deps build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) sh examples/demo.sh

# Where `make bench` writes its table, its data and its plot.
BENCH_OUT ?= $(CURDIR)/out/bench
# Non-empty (BENCH_QUICK=1): `make bench` runs every workload briefly, as a smoke check.
BENCH_QUICK ?=

# The benchmark suite of bench/: mmnet against raw C, bare Lua, LuaSocket + cjson and luv + cjson.
bench: deps build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) BENCH_QUICK="$(BENCH_QUICK)" HOST_CC="$(HOST_CC)" sh bench/run.sh $(BENCH_OUT)

# Where the time goes: each side of workloads 1 and 2 under callgrind (bench/profile.sh).
bench-profile: deps build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) sh bench/profile.sh $(BENCH_OUT)/profile

clean:
	rm -rf .build out
