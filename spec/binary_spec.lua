-- Checks on the built native library itself (.build/release/libmmnet.so): what it needs from the
-- dynamic linker, and what it exports. A host loads it without a Swift toolchain and gives it
-- the lua_* symbols, so it must neither need libswift* nor link its own copy of Lua.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- The libraries the built .so names as NEEDED (from `readelf -d`).
local function needed()
  local ok, _, out = helper.run("readelf -d " .. helper.quote(helper.library), 30)
  assert(ok, out)
  local names = {}
  for name in out:gmatch("%(NEEDED%)%s+Shared library: %[([^%]]+)%]") do
    names[#names + 1] = name
  end
  return names
end

--- The symbols the built .so defines in its dynamic symbol table (from `nm -D --defined-only`).
local function exported()
  local ok, _, out = helper.run("nm -D --defined-only " .. helper.quote(helper.library), 30)
  assert(ok, out)
  local names = {}
  -- Upper-case nm types are global (exported); lower-case ones are local symbols the linker
  -- keeps in .dynsym for relocations, which no other object can bind to.
  for name in out:gmatch("%x+ %u ([^\n]+)") do names[#names + 1] = name end
  table.sort(names)
  return names
end

describe("the built library", function()
  it("exists where `make build` leaves it", function()
    assert.is_not_nil(helper.read_file(helper.library), helper.library)
  end)

  it("does not link liblua (the host provides lua_*)", function()
    local names = needed()
    assert.is_true(#names > 0, "readelf found no NEEDED entries")
    for _, name in ipairs(names) do
      assert.is_nil(name:match("^liblua"), "links " .. name)
    end
  end)

  it("needs no Swift runtime library (static stdlib)", function()
    for _, name in ipairs(needed()) do
      assert.is_nil(name:match("^libswift"), "needs " .. name)
      assert.is_nil(name:match("^libFoundation"), "needs " .. name)
      assert.is_nil(name:match("^libdispatch"), "needs " .. name)
    end
  end)

  it("needs only the C and C++ runtimes and OpenSSL 3 (libssl, libcrypto)", function()
    -- The system libraries every Linux host has, plus OpenSSL 3 for TLS (Debian: libssl3).
    local allowed = {
      ["libc.so.6"] = true, ["libm.so.6"] = true, ["libstdc++.so.6"] = true,
      ["libgcc_s.so.1"] = true, ["libssl.so.3"] = true, ["libcrypto.so.3"] = true,
    }
    for _, name in ipairs(needed()) do
      assert.is_true(allowed[name] or name:match("^ld%-linux[%w%-_.]*%.so%.%d+$") ~= nil,
        "needs " .. name)
    end
  end)

  it("leaves lua_* undefined, to be resolved from the host", function()
    local ok, _, out = helper.run("nm -D --undefined-only " .. helper.quote(helper.library), 30)
    assert.is_true(ok, out)
    assert.is_truthy(out:match("U lua_createtable\n"), out)
  end)

  it("exports exactly luaopen_mmnet and luaopen_mmnet_core", function()
    assert.are.same({ "luaopen_mmnet", "luaopen_mmnet_core" }, exported())
  end)
end)
