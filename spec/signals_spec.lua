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
    local ok, code, out = helper.run(helper.tree_env() .. " " .. helper.quote(helper.host) .. " -e " ..
      helper.quote(chunk), 30)
    assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
    assert.is_truthy(out:find("SIGTERM READ", 1, true), out)
  end)

  -- Found by a review of Lua idioms (2026-12-07): lua5.4 takes Ctrl-C by setting a debug hook
  -- that runs at the script's next instruction, and a PollEvents(60) waited out its 60 s first.
  for _, case in ipairs { { "the main thread", "%s" }, { "a coroutine", "coroutine.wrap(function() %s end)()" } } do
  it("a Ctrl-C (SIGINT) to lua5.4 ends a long PollEvents wait at once, in " .. case[1] .. ": 'interrupted!'", function()
    local dir = helper.tempdir()
    finally(function() helper.cleanup(dir) end)
    local script = dir .. "/wait.lua"
    helper.write_file(script, [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))
      local pid = io.open("/proc/self/stat"):read("n")
      io.stdout:write("WAITING ", pid, "\n")
      io.stdout:flush()
      ]] .. case[2]:format("network.PollEvents(60)") .. [[
      print("NOT INTERRUPTED")
    ]])
    local proc = helper.spawn("exec " .. helper.tree_env() .. " " .. helper.lua .. " " .. helper.quote(script), { timeout = 90 })
    finally(function() proc:close() end)
    local line = assert(proc:wait_for("^WAITING %d+", 10), proc:output())
    os.execute("kill -INT " .. line:match("%d+"))  -- the lua5.4 process alone, as a terminal's Ctrl-C
    local code = proc:wait(10)
    assert.is_truthy(code, "still waiting 10 s after the SIGINT")
    assert.are_not.equal(0, code)
    assert.is_truthy(proc:output():find("interrupted!", 1, true), proc:output())
    assert.is_nil(proc:output():find("NOT INTERRUPTED", 1, true))
  end)
  end
end)
