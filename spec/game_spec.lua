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

describe("a game server's frame", function()
  before_each(net.reset)
  after_each(net.reset)

  --- Median time one `server:Broadcast(message)` takes the script's thread (the median of
  -- many, so that a busy machine's preemptions do not count).
  local function broadcast_time(server, message, rounds)
    local times = {}
    for round = 1, rounds do
      message.tick = round
      network.PollEvents(0)
      local t0 = net.now()
      server:Broadcast(message)
      times[round] = net.now() - t0
      net.socket.sleep(0.01)
    end
    table.sort(times)
    return times[(rounds + 1) // 2]
  end

  -- A Broadcast wrote to every plaintext connection from the script's thread, one send(2)
  -- each (about 12 us apiece here): 0.6 ms of every frame for 50 players, 2.5 to 3 ms for 200,
  -- up to 10 to 15 ms on a busy machine, while the same Broadcast with a key cost 0.1 to 0.3
  -- ms (its writes are the I/O thread's). Now a message for several connections is queued for
  -- the I/O thread, which writes it to all of them; a Send to one connection is still written
  -- at once. Measured against a Broadcast to one player (one send(2)), in the same run so that
  -- the machine's speed and load cancel out: before, 200 players cost 27 to 34 times one
  -- (2.1 to 2.5 ms, one 0.07 ms); now twice (0.13 ms).
  it("does not pay a system call per player for a Broadcast", function()
    local players = 200
    local server = assert(network.Server("127.0.0.1", 0))
    local peer = net.spawn_peer("clients", { server:GetPort(), players })
    local deadline = net.now() + 20
    local conns = {}
    while #conns < players and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_CONNECT then conns[#conns + 1] = e.Object end
      end
    end
    assert.are.equal(players, #conns)
    local solo = net.pair()
    local message = { tick = 0, state = "a small message: encoding it costs little" }
    local one = broadcast_time(solo, message, 31)
    local all = broadcast_time(server, message, 31)
    peer:kill()
    assert.is_true(all < 10 * one, ("Broadcast to %d players: %.3f ms, to one: %.3f ms"):format(
      players, all * 1000, one * 1000))
  end)
end)
