-- Signals belong to the host: mmnet's I/O thread blocks them all, so a host that blocks SIGTERM
-- in its own thread after loading mmnet, to read it from a signalfd, gets it there (before:
-- the I/O thread, started with the host's mask of the time, took it and the process died).
-- Runs the C test host (tests/host/host.c), whose HOST table gives the script signalfd(2).
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

describe("signals", function()
  it("go to the host's threads, not mmnet's I/O thread", function()
    local chunk = [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))  -- the I/O thread runs
      local fd = HOST.signalfd(15)                             -- SIGTERM blocked here, after
      HOST.raise(15)
      assert(HOST.readable(fd, 5), "SIGTERM never reached the signalfd")
      print("SIGTERM READ")
    ]]
    local ok, code, out = helper.host_run(chunk, 30)
    assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
    assert.is_truthy(out:find("SIGTERM READ", 1, true), out)
  end)

  -- Found by a review of Lua idioms (2026-12-07): lua5.4 takes Ctrl-C by setting a debug hook
  -- that runs at the script's next instruction, and a PollEvents(60) waited out its 60 s first;
  -- a WaitForConnect(10) (its longest) its 10 s, found by the review of embedding hosts.
  -- Each: what it is, the script's setup, its wait.
  local waits = {
    { "a long PollEvents wait", "", "network.PollEvents(60)" },
    -- To the test's listener (PORT), which never accepts: no hello ever comes. (The state's
    -- close then waits up to 5 s for that connection's close: the time is taken until the
    -- interrupt is reported, not until the process ends.)
    { "a WaitForConnect", "local client = network.Client('127.0.0.1', PORT)", "client:WaitForConnect(10)" },
  }
  for _, wait in ipairs(waits) do
  -- A profiler's hook on every event with a count has the mask Ctrl-C's hook sets: only its
  -- function and count tell them apart (found by the review of hooks, 2026-12-07: the wait
  -- went on to its end).
  local cases = {
    { "the main thread", "%s" },
    { "a coroutine", "coroutine.wrap(function() %s end)()" },
    { "a script with a profiler's hook", "debug.sethook(function() end, 'crl', 1000) %s" },
  }
  for _, case in ipairs(cases) do
  it("a Ctrl-C (SIGINT) to lua5.4 ends " .. wait[1] .. " at once, in " .. case[1] .. ": 'interrupted!'", function()
    local dir = helper.tempdir()
    finally(function() helper.cleanup(dir) end)
    local script = dir .. "/wait.lua"
    local listener = assert(require("socket").bind("127.0.0.1", 0))
    finally(function() listener:close() end)
    local port = select(2, listener:getsockname())
    helper.write_file(script, [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))
      ]] .. wait[2]:gsub("PORT", port) .. [[
      local pid = io.open("/proc/self/stat"):read("n")
      io.stdout:write("WAITING ", pid, "\n")
      io.stdout:flush()
      ]] .. case[2]:format(wait[3]) .. [[
      print("NOT INTERRUPTED")
    ]])
    local proc = helper.spawn("exec " .. helper.tree_env() .. " " .. helper.lua .. " " .. helper.quote(script), { timeout = 90 })
    finally(function() proc:close() end)
    local line = assert(proc:wait_for("^WAITING %d+", 10), proc:output())
    helper.sleep(0.3)  -- well inside the wait
    os.execute("kill -INT " .. line:match("%d+"))  -- the lua5.4 process alone, as a terminal's Ctrl-C
    assert.is_truthy(proc:wait_for("interrupted!", 2), "still waiting 2 s after the SIGINT: " .. proc:output())
    local code = proc:wait(10)
    assert.is_truthy(code, "not ended 10 s after the SIGINT")
    assert.are_not.equal(0, code)
    assert.is_nil(proc:output():find("NOT INTERRUPTED", 1, true))
  end)
  end
  end
end)
