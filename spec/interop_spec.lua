-- An independent peer, written in Python from PROTOCOL.md alone
-- (tests/interop/independent_peer.py), against real mmnet Lua programs both ways: its client
-- against an mmnet server (tests/interop/server.lua), an mmnet client (tests/interop/client.lua)
-- against its server. Every value type both ways, PROTOCOL.md's byte vectors, 1000 pipelined
-- messages, 9 MiB and exactly-16-MiB messages, every refused hello and frame with the event
-- and reason PROTOCOL.md gives (other connections unaffected), pings, pongs, the peer timeout
-- and the closes. The peer prints one line per check and exits 0 only if all passed.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"

local dir = helper.root .. "/tests/interop/"

--- Runs the peer in one mode against one Lua script; asserts it passed every check.
local function run_peer(mode, script)
  local command = helper.tree_env() .. " LUA=" .. helper.quote(helper.lua) ..
    " /usr/bin/python3 " .. helper.quote(dir .. "independent_peer.py") .. " " .. mode .. " " ..
    helper.quote(dir .. script)
  local ok, code, output = helper.run(command, 45)
  local failures = {}
  for line in output:gmatch("[^\n]+") do
    if not line:match("^ok ") and not line:match("^     %(") then failures[#failures + 1] = line end
  end
  assert(ok, ("exit %d; the lines that are not passed checks:\n%s"):format(code,
    table.concat(failures, "\n")))
  local passed, failed = output:match("(%d+) passed, (%d+) failed")
  assert.are.equal("0", failed)
  assert.is_true(tonumber(passed) > 150, "too few checks ran:\n" .. output)
end

describe("interop with an independent Python peer", function()
  it("a Python client against an mmnet server", function()
    run_peer("client", "server.lua")
  end)

  it("an mmnet client against a Python server", function()
    run_peer("server", "client.lua")
  end)
end)
