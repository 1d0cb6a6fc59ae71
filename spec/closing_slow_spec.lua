-- Closing with a slow reader (found by `make test-tsan`, where everything is slow): a client
-- process that sends 20,000 messages of 1 KiB, disconnects and exits while the receiver takes
-- about 4 s to drain them must still deliver every one (DESIGN.md: "Send then Disconnect loses
-- nothing"; PROTOCOL.md: everything accepted by Send is written before the FIN).
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local network = net.network

describe("closing with a receiver slower than the 2 s linger", function()
  before_each(net.reset)
  after_each(net.reset)

  it("a client process's Send x 20,000, Disconnect, exit: all arrive in order", function()
    network.Configure({ QueueFull = "wait", EventQueueSize = 200 })
    local server = assert(network.Server("127.0.0.1", 0))
    local total = 20000
    local sender = net.spawn_peer("sender", { server:GetPort(), total, "disconnect", 1024 }, { timeout = 60 })
    finally(function() sender:close() end)
    -- Slow: 0.2 s per 1,000 messages, about 4 s for all, well past the 2 s linger.
    local expected, errors, close = net.receive_until_close(40, function(seq)
      if seq % 1000 == 999 then net.socket.sleep(0.2) end
    end)
    assert.is_truthy(close, "no close; got up to seq " .. (expected - 1))
    assert.are.same({}, errors)
    assert.are.equal("closed by peer", close.Errors)
    assert.are.equal(total + 1, expected)
    assert.are.equal(0, sender:wait(10), sender:output())
  end)
end)
