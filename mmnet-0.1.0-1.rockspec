-- LuaRocks package description. The build goes through the Makefile, which knows the Swift
-- flags (static Swift runtime, exported symbols) the library needs.
rockspec_format = "3.0"
package = "mmnet"
version = "0.1.0-1"
source = {
   -- Where `luarocks install` fetches the sources; `luarocks make` builds the checkout instead.
   url = "git+https://github.com/mmnet/mmnet.git",
   tag = "v0.1.0",
}
description = {
   summary = "Pass Lua tables between programs over TCP, optionally encrypted (TLS 1.3 PSK).",
   detailed = [[
      mmnet is MM's network library: servers, clients and an event queue that carry Lua tables
      over TCP, encoded as MessagePack, with a background I/O thread written in Swift.
   ]],
   license = "MIT",
}
dependencies = {
   -- The native module is built against Lua 5.4's C API and ABI.
   "lua >= 5.4, < 5.5",
}
-- The native library links OpenSSL's libssl and libcrypto (Debian: libssl-dev); LuaRocks checks
-- the header is there before building.
external_dependencies = {
   OPENSSL = { header = "openssl/ssl.h" },
}
build = {
   type = "make",
   -- Variables passed to `make` (build): where LuaRocks found Lua's headers.
   build_variables = {
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   -- Variables passed to `make install`: the tree's Lua and C module directories.
   install_variables = {
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
   },
}
