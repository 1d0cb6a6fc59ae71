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
end)
