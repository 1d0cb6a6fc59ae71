-- A host that caps a state's memory: when PollEvents runs out of it while building the event
-- tables, Lua raises "not enough memory" past mmnet's frames, and no event may be lost for it:
-- the next PollEvents returns them all, in order (spec/peers/memory_pressure.lua, run by the C
-- test host with --memory-limit).
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

describe("PollEvents out of memory", function()
  it("raises Lua's memory error, then returns every event once memory is back", function()
    local tree = helper.tree
    local command = "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" ..
      helper.quote(tree .. "/share/lua/5.4/?.lua;;") .. " LUA_CPATH=" .. helper.quote(tree .. "/lib/lua/5.4/?.so;;") ..
      " timeout 30 " .. helper.quote(helper.host) .. " --memory-limit 16000000 " ..
      helper.quote(helper.root .. "/spec/peers/memory_pressure.lua") .. " 2>&1"
    local pipe = assert(io.popen(command))
    local output = pipe:read("a")
    local ok = pipe:close()
    assert.is_true(ok, output)
    assert.is_truthy(output:find("FAILED not enough memory\n", 1, true), output)
    assert.is_truthy(output:find("RECEIVED 1,2,3\n", 1, true), output)
  end)
end)
