-- A short soak (issue 8; `make soak` runs the long one): tests/soak/soak.lua in two processes,
-- mixed traffic both ways over 16 connections (half of them encrypted), every message
-- sequence-checked, with QueueFull = "wait" and with "drop" and
-- a receiver that polls often; and the checks themselves shown to catch losses.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- Runs the soak driver with `args`; returns ok, output.
local function soak(args, seconds)
  -- The test tree first, then the system's modules (LuaSocket).
  local env = "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" ..
    helper.quote(helper.tree .. "/share/lua/5.4/?.lua;;") .. " LUA_CPATH=" ..
    helper.quote(helper.tree .. "/lib/lua/5.4/?.so;;")
  local command = env .. " " .. helper.lua .. " " ..
    helper.quote(helper.root .. "/tests/soak/soak.lua") .. " driver " .. args
  local ok, _, output = helper.run(command, seconds)
  return ok, output
end

describe("a short soak", function()
  for _, mode in ipairs { "wait", "drop" } do
    it("2.5 s with QueueFull = \"" .. mode .. "\": nothing lost, duplicated or reordered", function()
      -- A grace (default 60 s: what a link may take to complete) well under the 60 s here, so
      -- that the driver's deadline and the clients' (grace + 15 s) report a hang in time.
      local ok, output = soak("2.5 " .. mode .. " 16 --grace 20", 60)
      print("\n" .. output)
      assert.is_true(ok, output)
      assert.is_truthy(output:find("SOAK PASSED", 1, true), output)
      assert.is_truthy(output:find("CLIENTS PASSED", 1, true), output)
      assert.is_truthy(output:find("servers: 16 connections (8 encrypted)", 1, true), output)
    end)
  end

  it("catches losses: \"drop\" with no window and a 50-event queue on the clients fails the sequence checks", function()
    local ok, output = soak("1 drop 8 --window inf --queue 50 --grace 2", 30)
    assert.is_false(ok, output)
    assert.is_truthy(output:find("SOAK FAILED", 1, true), output)
    -- Found missing while the run goes on (the link never completes) or at its end.
    assert.is_truthy(output:find("SOAK FAILED: clients: client %d+[^\n]-[^%d][1-9]%d* lost"), output)
    assert.is_truthy(output:find("[1-9]%d* events lost to queue overflow"), output)
  end)
end)
