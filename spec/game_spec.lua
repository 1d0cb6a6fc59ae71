-- What a game script does that the other specs did not: found by a review that used mmnet as a
-- game server and its players do (2026-12-07, review/ in the reviewer's clone).
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local net = require "nethelper"
local network = net.network

describe("a game", function()
  before_each(net.reset)
  after_each(net.reset)

  -- A game changing maps drops its server and makes a new one on the same port. The dropped
  -- server's socket was closed by the I/O thread only when it next ran its commands, so the
  -- port stayed bound for a moment: in the review, the first Server after collectgarbage()
  -- failed with "Address already in use" (the second, 10 ms later, worked).
  it("makes a new server on the port of the one it dropped, at once", function()
    local port = assert(network.Server("127.0.0.1", 0)):GetPort()
    collectgarbage(); collectgarbage()
    for round = 1, 50 do
      local server, why = network.Server("127.0.0.1", port)
      assert(server, "round " .. round .. ": " .. tostring(why))
      local client = select(2, net.pair(server))  -- (a local `_` would keep the server)
      server = nil  -- luacheck: ignore (dropped on purpose)
      collectgarbage(); collectgarbage()
      -- Its players learn that it is gone, as from a server process that ended.
      local e = assert(net.wait_kind(network.EVENT_SERVER_CLOSE, client, 5))
      assert.are.equal("closed by peer", e.Errors)
    end
    -- The last port is free too, and a new server there serves players at once.
    local server = assert(network.Server("127.0.0.1", port))
    local _, client, c = net.pair(server)
    net.assert_still_working(server, client, c)
  end)
end)
