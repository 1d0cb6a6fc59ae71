-- A receiver whose reading is paused (QueueFull = "wait", its script not polling) for longer
-- than the sender's linger still gets every message that had arrived (found by
-- `make test-asan`). The sender writes everything, sends its FIN, waits, closes; the receiver's
-- next ping meets a closed socket (RST) and its write fails. The receiver then stops writing but
-- reads on, and reports the close only after the script has polled every message out.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

describe("a receiver paused longer than the sender's linger", function()
  before_each(net.reset)
  after_each(net.reset)

  it("still gets every message that arrived, then the close", function()
    network.Configure({ QueueFull = "wait", EventQueueSize = 100, PingInterval = 0.5 })
    local server = assert(network.Server("127.0.0.1", 0))
    local total = 2000
    local sender = net.spawn_peer("sender", { server:GetPort(), total, "disconnect", 100 }, { timeout = 60 })
    finally(function() sender:close() end)
    -- The script does not poll until the sender has finished, then 3 s more (longer than the
    -- 2 s the sender's close used to wait): the ring fills, reading pauses, the sender writes
    -- what the buffers take, disconnects and exits (its lua_close waits while it can).
    assert.is_truthy(sender:wait_for("^SENT", 10), sender:output())
    net.socket.sleep(3)
    local expected, closed, conn = 1, false, nil
    local deadline = net.now() + 20
    while not closed and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_CONNECT then
          conn = e.Object
        elseif e.Event == network.EVENT_RECEIVE then
          assert.are.equal(expected, e.Packet.seq)
          expected = expected + 1
        elseif e.Event == network.EVENT_CLIENT_CLOSE then
          closed = true
        else
          error("unexpected " .. net.describe(e) .. " after seq " .. (expected - 1))
        end
      end
    end
    assert.is_true(closed)
    assert.are.equal(total + 1, expected)
    assert.is_truthy(conn)
  end)
end)

describe("a connection whose peer is gone while reading is paused", function()
  before_each(net.reset)
  after_each(net.reset)

  it("closes at once when the script disconnects it (no linger on a stream already ended)", function()
    -- The end of the peer's stream waits, while reading is paused, until the script has polled
    -- what came before it. A Disconnect meanwhile left the connection closing with its socket
    -- out of the poll set: it stayed for the whole 10 s linger (and held lua_close 5 s).
    network.Configure({ QueueFull = "wait", EventQueueSize = 10 })
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.hello_peer(server:GetPort())
    finally(function() raw:close() end)
    local frames = {}
    for i = 1, 50 do frames[i] = net.frame(network.Encode({ seq = i })) end
    assert(raw:send(table.concat(frames)))
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    -- Nine of the messages came with the connect; the ring is full again at once.
    net.socket.sleep(0.3)
    assert.are.equal(10, network.GetStats().EventsQueued)
    -- A reset now: the paused connection reads to the end of the stream and keeps the close.
    raw:setoption("linger", { on = true, timeout = 0 })
    raw:close()
    net.socket.sleep(0.3)
    assert.are.equal(1, network.GetStats().Connections)
    assert.are.equal(1, server:Disconnect(c))
    local t0 = net.now()
    assert.is_truthy(helper.wait_until(function() return network.GetStats().Connections == 0 end, 8, 0.02),
      "still open 8 s after the Disconnect")
    local took = net.now() - t0
    assert.is_true(took < 2, ("closed %.2f s after the Disconnect"):format(took))
    -- No event for a close this side asked for.
    assert.are.same({}, net.collect({ Event = network.EVENT_CLIENT_CLOSE }, 0.2))
  end)
end)
