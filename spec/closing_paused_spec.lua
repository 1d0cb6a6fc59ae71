-- A receiver whose reading is paused (QueueFull = "wait", its script not polling) for longer
-- than the sender's linger still gets every message that had arrived (found by
-- `make test-asan`). The sender writes everything, sends its FIN, waits, closes; the receiver's
-- next ping meets a closed socket (RST) and its write fails. The receiver then stops writing but
-- reads on, and reports the close only after the script has polled every message out.
--
-- Thread: the busted process's Lua thread only.
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
