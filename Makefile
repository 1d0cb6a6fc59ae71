# mmnet: build, install, test and demo.
#
#   make build                 release build of the native library (.build/release/libmmnet.so)
#   make install PREFIX=DIR    DIR/share/lua/5.4/mmnet.lua + DIR/lib/lua/5.4/mmnet/core.so
#   make test                  Debian packages (as root), build, Lua specs, Swift tests
#   make demo                  a server and a client in two lua5.4 processes, printing events
#   make host                  out/host, the C test host that embeds Lua (tests/host/host.c)
#   make tls-peer              out/tls_peer and out/freed_key.so, the TLS test tools of the specs (tests/tls)
#   make bench-codec           Encode/Decode speed against lua-cjson, bare Lua and string.rep
#   make bench-tls             in-memory speed of the TLS engine (handshakes, 40 B and 1 MiB writes)
#   make bench                 the benchmark suite (bench/): out/bench/results.txt, throughput.png
#                              (BENCH_QUICK=1: every workload, briefly)
#   make bench-profile         callgrind of mmnet on workloads 1 and 2: out/bench/profile/*.txt
#   make fuzz [FUZZ_SECONDS=N] libFuzzer on the MessagePack decoder and the hello/frame parser
#   make fuzz-smoke            replays every seed and regression file, then fuzzes each briefly
#   make test-asan / test-tsan the Lua specs and Swift tests with AddressSanitizer / ThreadSanitizer
#   make soak [SOAK_SECONDS=N] mixed traffic over many connections, sequence-checked (600 s)
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
# The hostile TLS client of spec/hostile_tls_spec.lua, built by `make tls-peer`.
TLS_PEER = $(CURDIR)/out/tls_peer
# The LD_PRELOAD library that reports freed blocks holding a key (tests/tls/freed_key.c).
FREED_KEY = $(CURDIR)/out/freed_key.so
# Scratch tree the tests install into and load from, as a user would.
TEST_TREE ?= $(CURDIR)/out/tree
# Debian packages a build and the demo need (`make demo` asks for these alone).
BUILD_PACKAGES = lua5.4 liblua5.4-dev libssl-dev openssl gcc make binutils
# Debian packages the tests and the benchmarks need too.
DEBIAN_PACKAGES = $(BUILD_PACKAGES) lua-busted luarocks python3-msgpack lua-socket lua-cjson \
	lua-luv valgrind iproute2 gnuplot-nox
# Arguments of bench/codec.lua: iterations of the small-table loop, then rounds (best one kept).
BENCH_ARGS ?= 200000 9
# The Lua search paths that load mmnet from TEST_TREE.
TREE_ENV = LUA_PATH="$(TEST_TREE)/share/lua/5.4/?.lua;$(CURDIR)/spec/?.lua;;" \
	LUA_CPATH="$(TEST_TREE)/lib/lua/5.4/?.so;;" MMNET_TREE="$(TEST_TREE)" MMNET_ROOT="$(CURDIR)" \
	MMNET_HOST="$(HOST)" MMNET_TLS_PEER="$(TLS_PEER)"
# busted over spec/, through stock lua5.4, with every `finally` of a test run
# (spec/finally_all.lua: busted keeps only the last).
BUSTED = $(LUA) /usr/bin/busted --lpath="$(CURDIR)/spec/?.lua" --helper="$(CURDIR)/spec/finally_all.lua" spec

# LuaRocks passes CC, CFLAGS, ... for a C build; SwiftPM would hand them to its own clang, so
# they must not reach the swift driver.
unexport CC CXX CFLAGS CXXFLAGS CPPFLAGS LDFLAGS LIBFLAG

.PHONY: all build install uninstall deps deps-build host tls-peer test test-lua test-swift bench bench-profile bench-codec bench-tls demo clean \
	fuzz fuzz-smoke fuzz-build test-asan test-tsan test-lua-only soak

all: build

# Installs the Debian packages that are missing, when run as root (CI, a fresh machine);
# `deps-build` only those of a build and the demo.
deps: PACKAGES = $(DEBIAN_PACKAGES)
deps-build: PACKAGES = $(BUILD_PACKAGES)
deps deps-build:
	@missing=""; for p in $(PACKAGES); do \
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

$(HOST): tests/host/host.c tests/host/process.c tests/host/process.h
	mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ tests/host/host.c tests/host/process.c $(HOST_LUA_LIBS)

# The encrypted client that misbehaves for spec/hostile_tls_spec.lua (OpenSSL, as mmnet uses).
tls-peer: $(TLS_PEER) $(FREED_KEY)

$(TLS_PEER): tests/tls/tls_peer.c
	mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< -lssl -lcrypto

$(FREED_KEY): tests/tls/freed_key.c
	mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -shared -fPIC -o $@ $< -ldl

# Runs the three parts (Lua specs, Swift tests, fuzz smoke) even if one fails (-k), then prints
# one summary line.
test: deps
	@$(MAKE) --no-print-directory -k test-lua test-swift fuzz-smoke; status=$$?; \
	if [ $$status = 0 ]; then echo "make test: PASSED (Lua specs, Swift tests, fuzz smoke)"; \
	else echo "make test: FAILED"; fi; exit $$status

# The busted specs, through stock lua5.4, against a tree installed as a user would.
test-lua: build host tls-peer
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(TREE_ENV) $(BUSTED)

# The Swift unit tests: of the core (MMNetCoreTests) and of the binding against a Lua state
# (MMNetLuaTests).
test-swift:
	$(SWIFT) test -Xcc -I$(LUA_INCDIR)

# The codec benchmark (figures only, not a timed test), against a tree installed as for the tests.
bench-codec: deps build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	mkdir -p $(BENCH_OUT)
	$(HOST_CC) $(HOST_CFLAGS) -shared -fPIC -o $(BENCH_OUT)/codec_floor.so bench/codec_floor.c
	$(TREE_ENV) CODEC_FLOOR=$(BENCH_OUT)/codec_floor.so $(LUA) bench/codec.lua $(BENCH_ARGS)
# Prints figures; asserts nothing about speed.
bench-tls: deps
	$(SWIFT) run -c release TLSBench

demo: deps-build build
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

# ---- Fuzzing (libFuzzer through swiftc -sanitize=fuzzer,address) ------------------------
# Each target is one executable built from the codec and wire sources themselves (no Lua, no
# sockets) plus its harness in Fuzz/. Working corpora and crash files go under out/fuzz; the
# checked-in seeds are only read. A crash prints the artifact's path: copy it into
# Tests/corpus/fuzz/<target>/ (replayed by fuzz-smoke and by the Swift tests) and fix the bug.
# Seconds each target fuzzes in `make fuzz`, and in `make fuzz-smoke` (part of `make test`).
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 5
# Working corpora, crash files and the fuzz executables.
FUZZ_DIR = $(CURDIR)/out/fuzz
# The sources every fuzz target is built from, besides its harness.
FUZZ_CORE = $(wildcard Sources/MMNetCore/Codec/*.swift Sources/MMNetCore/Wire/*.swift) \
	Sources/MMNetCore/Defaults.swift Sources/MMNetCore/IO/ReadBuffer.swift Sources/MMNetCore/System/Lock.swift \
	Sources/MMNetCore/System/Clock.swift \
	Fuzz/Rewriter.swift
# The compiler command of a fuzz target: libFuzzer and AddressSanitizer, optimized.
FUZZ_SWIFTC = swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name MMNetFuzz
# Seeds of each target: the checked-in corpus, then the crashes found earlier.
FUZZ_SEEDS_msgpack = Tests/corpus/msgpack Tests/corpus/fuzz/msgpack
FUZZ_SEEDS_frames = Fuzz/corpus/frames Tests/corpus/fuzz/frames

$(FUZZ_DIR)/msgpack: $(FUZZ_CORE) Fuzz/MessagePackFuzz.swift
	mkdir -p $(FUZZ_DIR)
	$(FUZZ_SWIFTC) $^ -o $@ 2>&1 | grep -v "Cannot export local symbol" || true
	test -x $@

$(FUZZ_DIR)/frames: $(FUZZ_CORE) Fuzz/FrameFuzz.swift
	mkdir -p $(FUZZ_DIR)
	$(FUZZ_SWIFTC) $^ -o $@ 2>&1 | grep -v "Cannot export local symbol" || true
	test -x $@

fuzz-build: $(FUZZ_DIR)/msgpack $(FUZZ_DIR)/frames

# Runs target $(1) for $(2) seconds from its seeds; prints executions and coverage.
define run_fuzz
	mkdir -p $(FUZZ_DIR)/work-$(1) $(FUZZ_DIR)/crashes-$(1)
	cd $(FUZZ_DIR) && ./$(1) -max_total_time=$(2) -print_final_stats=1 -timeout=10 \
		-artifact_prefix=$(FUZZ_DIR)/crashes-$(1)/ work-$(1) $(addprefix $(CURDIR)/,$(FUZZ_SEEDS_$(1))) \
		> $(FUZZ_DIR)/$(1).log 2>&1 || { tail -40 $(FUZZ_DIR)/$(1).log; exit 1; }
	@echo "fuzz $(1): $$(grep -o 'stat::number_of_executed_units: *[0-9]*' $(FUZZ_DIR)/$(1).log | grep -o '[0-9]*$$') executions in $(2) s, $$(grep -o 'DONE *cov: [0-9]* ft: [0-9]*' $(FUZZ_DIR)/$(1).log | sed 's/DONE *//'), corpus $$(ls $(FUZZ_DIR)/work-$(1) | wc -l) files"
endef

# Replays a target over its seeds and regressions (every file must pass the harness's checks).
define replay_fuzz
	cd $(FUZZ_DIR) && ./$(1) -runs=0 $(addprefix $(CURDIR)/,$(FUZZ_SEEDS_$(1))) > $(FUZZ_DIR)/$(1)-replay.log 2>&1 \
		|| { tail -40 $(FUZZ_DIR)/$(1)-replay.log; exit 1; }
endef

fuzz: fuzz-build
	$(call run_fuzz,msgpack,$(FUZZ_SECONDS))
	$(call run_fuzz,frames,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call replay_fuzz,msgpack)
	$(call replay_fuzz,frames)
	$(call run_fuzz,msgpack,$(FUZZ_SMOKE_SECONDS))
	$(call run_fuzz,frames,$(FUZZ_SMOKE_SECONDS))

# ---- Sanitizers --------------------------------------------------------------------------
# The library built with -sanitize=address or -sanitize=thread (debug, Swift runtime linked
# dynamically: the sanitizers do not combine with -static-stdlib), installed into its own tree
# and loaded into stock lua5.4 with the toolchain's runtime preloaded (lua5.4 itself is not
# instrumented). Reports go to files under out/sanitizer/<kind>/, from every process the specs
# start; any file there fails the target. The specs that run valgrind are pending under a
# sanitizer (MMNET_SANITIZER is set): valgrind and a sanitizer runtime cannot share a process.
# Then the Swift tests, built with the same sanitizer and the same options. Leak checking is off
# (detect_leaks=0): XCTest leaks its own test registry at exit, and leaks are valgrind's job
# in the Lua specs.
SANITIZER_LIBDIR = $(abspath $(dir $(shell command -v swiftc))/../lib/swift/clang/lib/linux)
# The toolchain's libdispatch, preloaded too: the sanitized library links the Swift runtime
# dynamically, and when Lua unloads it at lua_close the runtime's libdispatch would go with it
# while a thread that ran Swift code still has its TSD destructor registered (a jump into
# unmapped code when that thread exits: seen with the C host's --threads). A preloaded library
# is never unloaded. (The shipping build links the runtime statically and is not affected.)
SANITIZER_PRELOAD_EXTRA = $(abspath $(dir $(shell command -v swiftc))/../lib/swift/linux/libdispatch.so)
# allocator_may_return_null: a request malloc cannot meet returns NULL, as glibc's does, instead
# of a report: mmnet's handling of that is under test (ReadBufferTests, BufferPoolTests). The
# runtime still logs a "failed to allocate" warning for it; only errors and races fail the run.
ASAN_OPTIONS_TEST = detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:log_path=$(CURDIR)/out/sanitizer/address/report
TSAN_OPTIONS_TEST = halt_on_error=0:second_deadlock_stack=1:allocator_may_return_null=1:suppressions=$(CURDIR)/tests/sanitizer/tsan.supp:log_path=$(CURDIR)/out/sanitizer/thread/report

# $(1): address | thread; $(2): the runtime's short name (asan | tsan); $(3): its options variable.
define sanitized_tests
	rm -rf $(CURDIR)/out/sanitizer/$(1) $(CURDIR)/out/$(2)-tree
	mkdir -p $(CURDIR)/out/sanitizer/$(1)
	$(SWIFT) build --sanitize=$(1) --build-path .build/$(2) -c debug --product mmnet -Xcc -I$(LUA_INCDIR)
	install -d out/$(2)-tree/share/lua/5.4 out/$(2)-tree/lib/lua/5.4/mmnet
	install -m 644 lua/mmnet.lua out/$(2)-tree/share/lua/5.4/mmnet.lua
	install -m 755 .build/$(2)/debug/libmmnet.so out/$(2)-tree/lib/lua/5.4/mmnet/core.so
	$(MAKE) --no-print-directory test-lua-only TEST_TREE=$(CURDIR)/out/$(2)-tree \
		SANITIZER_ENV="MMNET_SANITIZER=$(1) LD_PRELOAD=$(SANITIZER_LIBDIR)/libclang_rt.$(2)-x86_64.so:$(SANITIZER_PRELOAD_EXTRA) $(3)"; \
		status=$$?; \
	env $(3) $(SWIFT) test --sanitize=$(1) --build-path .build/$(2) -Xcc -I$(LUA_INCDIR) \
		> $(CURDIR)/out/sanitizer/swift-test-$(1).log 2>&1 || { tail -30 $(CURDIR)/out/sanitizer/swift-test-$(1).log; status=1; }; \
	grep -E "Executed [0-9]+ tests" $(CURDIR)/out/sanitizer/swift-test-$(1).log | tail -1; \
	if grep -qsE "ERROR: |WARNING: ThreadSanitizer:" $(CURDIR)/out/sanitizer/$(1)/report*; then \
		echo "sanitizer reports ($(1)):"; head -60 $(CURDIR)/out/sanitizer/$(1)/report*; status=1; fi; \
	if [ $$status = 0 ]; then echo "make test-$(2): PASSED, no $(1) sanitizer report"; \
	else echo "make test-$(2): FAILED"; fi; exit $$status
endef

# The busted specs against TEST_TREE as it stands (no build, no install), with SANITIZER_ENV.
test-lua-only:
	$(SANITIZER_ENV) $(TREE_ENV) $(BUSTED)

test-asan: build host tls-peer
	$(call sanitized_tests,address,asan,ASAN_OPTIONS=$(ASAN_OPTIONS_TEST))

test-tsan: build host tls-peer
	$(call sanitized_tests,thread,tsan,TSAN_OPTIONS=$(TSAN_OPTIONS_TEST))

# ---- Soak (tests/soak/soak.lua): two processes, mixed traffic, every message sequence-checked -
# SOAK_SECONDS in all: half with QueueFull = "wait", half with "drop" (a windowed sender and a
# receiver that polls often). Run by hand; spec/soak_spec.lua runs a 5-second version inside
# `make test`.
# Seconds of traffic in all, and connections between the two processes.
SOAK_SECONDS ?= 600
SOAK_CONNECTIONS ?= 32
# The Lua search paths of the two soak processes (the test tree; no spec directory).
SOAK_ENV = LUA_PATH="$(TEST_TREE)/share/lua/5.4/?.lua;;" LUA_CPATH="$(TEST_TREE)/lib/lua/5.4/?.so;;"

soak: build
	rm -rf $(TEST_TREE)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_TREE)
	$(SOAK_ENV) $(LUA) tests/soak/soak.lua driver $$(( $(SOAK_SECONDS) / 2 )) wait $(SOAK_CONNECTIONS)
	$(SOAK_ENV) $(LUA) tests/soak/soak.lua driver $$(( $(SOAK_SECONDS) / 2 )) drop $(SOAK_CONNECTIONS)

clean:
	rm -rf .build out
