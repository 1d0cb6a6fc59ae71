-- A host that caps a state's memory (the C test host's --memory-limit, running the scripts
-- spec/peers/memory_*.lua). When PollEvents runs out of it while building the event tables,
-- Lua raises "not enough memory", and no event may be lost for it: the next PollEvents returns
-- them all, in order. When Encode runs out of it making its string, the error is raised too.
-- When Send has no memory to keep a large string for its loan, it copies the string instead.
-- And nothing may leak (checked under valgrind): Lua's error never unwinds mmnet's frames and
-- the references and buffers they hold; it comes back to them (protected calls). A sweep makes
-- every call fail at each of its allocations in turn (the host's SET_MEMORY_LIMIT) and checks
-- that no server or client is left open without a Lua value, and that a connection whose
-- EVENT_CONNECT was being built stays open.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- Runs a script of spec/peers in the test host with a memory cap.
-- @param script string its file name
-- @param limit integer the cap, in bytes
-- @param valgrind boolean run it under memcheck, failing on any block definitely lost
-- @param env string|nil more NAME=value settings for its environment
-- @return boolean ok, string output
local function capped(script, limit, valgrind, env)
  local tree = helper.tree
  local command = "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. (env or "") .. " LUA_PATH=" ..
    helper.quote(tree .. "/share/lua/5.4/?.lua;" .. helper.root .. "/spec/peers/?.lua;;") .. " LUA_CPATH=" .. helper.quote(tree .. "/lib/lua/5.4/?.so;;") .. " "
  if valgrind then
    -- The scripts' own limit for what they wait for (spec/peers/capped_pair.lua), within the
    -- 300 s this run has: their 10 s are too short for memcheck on a busy machine.
    command = command .. "CAPPED_PAIR_SECONDS=150 valgrind --keep-debuginfo=yes --leak-check=full --errors-for-leak-kinds=definite " ..
      "--error-exitcode=99 --suppressions=" .. helper.quote(helper.valgrind_supp) .. " "
  end
  command = command .. helper.quote(helper.host) .. " --memory-limit " .. limit .. " " ..
    helper.quote(helper.root .. "/spec/peers/" .. script)
  local ok, _, output = helper.run(command, valgrind and 300 or 30)
  return ok, output
end

--- Asserts that a capped run passed and printed `lines`.
-- @param lines string what the script prints when all went as it should
local function assert_printed(lines, ok, output)
  assert.is_true(ok, output)
  assert.is_truthy(output:find(lines, 1, true), output)
end

-- valgrind cannot run a process that has a sanitizer runtime preloaded: under one, the runs
-- that check for leaks run without valgrind (the sanitizer checks memory instead).
local valgrind = not helper.sanitizer

describe("PollEvents out of memory", function()
  it("returns the events that fit, raising nothing, and the rest at the next calls, in order", function()
    assert_printed("RECEIVED 1,2,3,4 IN 3 OR MORE CALLS\n", capped("memory_pressure.lua", 16000000, false))
  end)

  it("leaks nothing doing so (valgrind)", function()
    assert_printed("RECEIVED 1,2,3,4 IN 3 OR MORE CALLS\n", capped("memory_pressure.lua", 16000000, valgrind))
  end)

  it("leaves the event descriptor readable, and EventsQueued counting them, for the events it kept back", function()
    assert_printed("RECEIVED 1,2,3,4 IN 3 OR MORE CALLS\n",
      capped("memory_pressure.lua", 16000000, false, "MMNET_WAIT_ON_DESCRIPTOR=1"))
  end)

  it("refuses a message that never fits with an EVENT_ERROR and closes its connection, and serves on", function()
    local reason = "not enough memory in this Lua state for a message of 2097163 bytes"
    assert_printed("ERROR " .. reason .. "\nCLOSED " .. reason ..
      "\nREFUSED 1\nSERVED\n", capped("memory_oversize.lua", 16000000, false))
  end)

  it("leaks nothing doing so (valgrind)", function()
    assert_printed("REFUSED 1\nSERVED\n", capped("memory_oversize.lua", 16000000, valgrind))
  end)
end)

describe("Encode out of memory", function()
  it("raises Lua's memory error and leaks its buffer no more (valgrind)", function()
    assert_printed("FAILED not enough memory\n" .. string.rep("FAILED not enough memory\n", 2) .. "ENCODED\n",
      capped("memory_encode.lua", 8000000, valgrind))
  end)
end)

describe("Every call out of memory at each of its allocations in turn", function()
  it("leaves no server or client open that the script cannot close, keeps a new connection, and leaks nothing (valgrind)", function()
    local ok, output = capped("memory_sweep.lua", 64000000, valgrind)
    assert_printed("SWEPT\n", ok, output)
    -- Each call did fail somewhere before it succeeded: the sweep reached its allocations.
    for _, call in ipairs({ "open", "Server", "Client", "PollEvents", "Encode", "Decode", "GetStats" }) do
      local failures = tonumber(output:match("\n" .. call .. ": (%d+) failures") or output:match("^" .. call .. ": (%d+) failures"))
      assert.is_truthy(failures and failures > 0, call .. " never failed:\n" .. output)
    end
  end)
end)

describe("Send out of memory", function()
  it("sends a large string it has no memory to lend as a copy, and leaks nothing (valgrind)", function()
    assert_printed("SENT 40\nRECEIVED 40\n", capped("memory_send.lua", 16000000, valgrind))
  end)
end)
