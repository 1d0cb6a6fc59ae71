-- The three ways of installing mmnet, each into its own temp dir, each checked by loading the
-- module in a fresh stock lua5.4 as a user would: `make install`, `luarocks make`, and the host
-- way (the bare .so copied as mmnet.so onto package.cpath).
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

local version = helper.rockspec_version()
local rockspec = select(2, helper.rockspec_version())

--- Asserts that a lua5.4 run of `helper.load_check_snippet` loaded mmnet `version`.
local function assert_loads(ok, code, output)
  assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. output)
  assert.are.equal("MMNET-OK mmnet " .. version, output:match("MMNET%-OK [^\n]*"), output)
end

--- The function names Lua gives in the argument errors of `m.Server` and `m.PollEvents` called
-- without a name (through pcall: Lua then looks the function up in package.loaded), over 20
-- fresh lua5.4 processes (each state hashes package.loaded with a seed of its own).
-- @param opts table `helper.lua_run`'s options
-- @return table the set of names seen
local function argument_error_names(opts)
  local names = {}
  for _ = 1, 20 do
    local ok, code, out = helper.lua_run([[
      local m = require "mmnet"
      print(select(2, pcall(m.Server)))
      print(select(2, pcall(m.PollEvents, "x")))]], opts)
    assert(ok, "exit " .. tostring(code) .. ":\n" .. out)
    for name in out:gmatch("bad argument #1 to '([^']*)'") do names[name] = true end
  end
  return names
end

--- The names the document gives (docs/API.md: `bad argument #1 to 'mmnet.Server' (...)`).
local DOCUMENTED_NAMES = { ["mmnet.Server"] = true, ["mmnet.PollEvents"] = true }

describe("the busted process", function()
  it("runs Lua 5.4 (Debian's busted would otherwise pick Lua 5.1)", function()
    assert.are.equal("Lua 5.4", _VERSION)
  end)

  it("loads mmnet from the test tree", function()
    local m = require "mmnet"
    assert.are.equal("mmnet " .. version, m._VERSION)
    assert.are.equal("number", type(m.EVENT_RECEIVE))
  end)
end)

describe("make install PREFIX=DIR", function()
  local dir
  setup(function()
    dir = helper.tempdir()
    local ok, _, out = helper.run("make -C " .. helper.quote(helper.root) ..
      " --no-print-directory install PREFIX=" .. helper.quote(dir), 600)
    assert(ok, out)
  end)
  teardown(function() helper.cleanup(dir) end)

  it("lays out the standard Lua tree", function()
    assert.is_not_nil(helper.read_file(dir .. "/share/lua/5.4/mmnet.lua"))
    assert.is_not_nil(helper.read_file(dir .. "/lib/lua/5.4/mmnet/core.so"))
  end)

  it("loads with LUA_PATH and LUA_CPATH pointing there", function()
    assert_loads(helper.lua_run(helper.load_check_snippet(), { tree = dir }))
  end)

  it("loads with LUA_PATH only: the helper finds core.so beside itself", function()
    assert_loads(helper.lua_run(helper.load_check_snippet(), { tree = dir, path_only = true }))
  end)

  it("names its functions in argument errors as the document does, every time", function()
    assert.are.same(DOCUMENTED_NAMES, argument_error_names({ tree = dir }))
    assert.are.same(DOCUMENTED_NAMES, argument_error_names({ tree = dir, path_only = true }))
  end)

  -- Found by a review of Lua idioms (2026-12-07): without the debug library (a sandbox) the
  -- helper failed with "attempt to index a nil value (global 'debug')"; it takes its own
  -- path from `require` now.
  it("loads in a state without the debug library, also with LUA_PATH only", function()
    assert_loads(helper.lua_run("debug = nil\n" .. helper.load_check_snippet(), { tree = dir }))
    assert_loads(helper.lua_run("debug = nil\n" .. helper.load_check_snippet(), { tree = dir, path_only = true }))
  end)

  it("says where it looked when core.so is missing", function()
    os.remove(dir .. "/lib/lua/5.4/mmnet/core.so")
    local ok, _, out = helper.lua_run('require "mmnet"', { tree = dir, path_only = true })
    assert.is_false(ok)
    assert.is_truthy(out:find("mmnet/core.so not found", 1, true), out)
  end)
end)

describe("luarocks make --tree DIR", function()
  local dir
  setup(function() dir = helper.tempdir() end)
  teardown(function() helper.cleanup(dir) end)

  it("installs the same tree with a LuaRocks for Lua 5.4", function()
    local ok, _, out = helper.run("cd " .. helper.quote(helper.root) ..
      " && luarocks --lua-version=5.4 make --tree " .. helper.quote(dir) .. " " ..
      helper.quote(rockspec), 600)
    assert.is_true(ok, out)
    assert.is_not_nil(helper.read_file(dir .. "/share/lua/5.4/mmnet.lua"))
    assert.is_not_nil(helper.read_file(dir .. "/lib/lua/5.4/mmnet/core.so"))
    assert_loads(helper.lua_run(helper.load_check_snippet(), { tree = dir }))
    assert_loads(helper.lua_run(helper.load_check_snippet(), { tree = dir, path_only = true }))
  end)

  it("is refused clearly by a LuaRocks for Lua 5.1", function()
    local other = dir .. "/lua51"
    local ok, _, out = helper.run("cd " .. helper.quote(helper.root) ..
      " && luarocks --lua-version=5.1 make --tree " .. helper.quote(other) .. " " ..
      helper.quote(rockspec), 120)
    assert.is_false(ok, out)
    assert.is_truthy(out:find("lua >= 5.4", 1, true), out)
    assert.is_nil(helper.read_file(other .. "/lib/lua/5.1/mmnet/core.so"))
  end)
end)

describe("the host way (only the .so, as mmnet.so on package.cpath)", function()
  local dir
  setup(function()
    dir = helper.tempdir()
    local ok, _, out = helper.run("cp " .. helper.quote(helper.library) .. " " ..
      helper.quote(dir .. "/mmnet.so"), 30)
    assert(ok, out)
  end)
  teardown(function() helper.cleanup(dir) end)

  it("loads through luaopen_mmnet, with no helper on package.path", function()
    local snippet = 'assert(not package.searchpath("mmnet", package.path), "helper found")\n' ..
      helper.load_check_snippet()
    assert_loads(helper.lua_run(snippet, { tree = dir, cpath = dir .. "/?.so" }))
  end)

  it("names its functions in argument errors as the document does, every time", function()
    assert.are.same(DOCUMENTED_NAMES, argument_error_names({ tree = dir, cpath = dir .. "/?.so" }))
  end)
end)
