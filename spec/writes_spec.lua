-- Which sends `Send` writes to the socket itself, before it returns, and which it leaves to the
-- I/O thread to gather (plaintext connections; README, the `TCP_NODELAY` paragraph): a send on its own and
-- a reply are written at once, even to a connection that was streamed to a moment before.
-- `SendQueueBytes` right after `Send` tells them apart: 0 when `Send` wrote the frame.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

--- Waits, spinning (a sleep would outlast the 1 ms a stream's pause rule looks back), until
-- the connection's send queue is written, within 5 s.
local function spin_until_flushed(connection)
  local deadline = net.now() + 5
  while connection:GetStats().SendQueueBytes > 0 do
    assert(net.now() < deadline, "send queue not flushed")
  end
end

describe("Send", function()
  before_each(function()
    net.reset()
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })  -- no ping in a send queue
  end)
  after_each(net.reset)

  it("writes a send on its own before it returns", function()
    local server, client, c = net.pair()
    helper.sleep(0.01)  -- well after the hello
    assert.are.equal(1, server:Send({ OpCode = 1 }, c))
    assert.are.equal(0, c:GetStats().SendQueueBytes)
    assert.is_true(client:Send({ OpCode = 2 }))
    assert.are.equal(0, client:GetStats().SendQueueBytes)
    assert(net.wait_kind(network.EVENT_RECEIVE, client, 5))
    assert(net.wait_kind(network.EVENT_RECEIVE, c, 5))
  end)

  -- A send soon after a stream to the same connection is gathered with it, unless it is the
  -- first to that connection since the script's last poll: a reply is never held, also when
  -- the script answered another connection first.
  it("writes a reply itself right after a stream to that connection, another reply sent first", function()
    local server = assert(network.Server("127.0.0.1", 0))
    net.hello_peers(server:GetPort(), 2, finally)  -- they read nothing: 8 rounds (25 KB) fit in the buffers
    local to_streamed = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    local to_other = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    for round = 1, 8 do
      local sent = 0  -- counted, not asserted, inside the loop: a stream's sends are microseconds apart
      for i = 1, 100 do sent = sent + server:Send({ OpCode = 10, Data = "update", Seq = i }, to_streamed) end
      assert.are.equal(100, sent)
      spin_until_flushed(to_streamed)
      network.PollEvents(0)
      assert.are.equal(1, server:Send({ OpCode = 11, Round = round }, to_other))
      assert.are.equal(1, server:Send({ OpCode = 12, Round = round }, to_streamed))
      assert.are.equal(0, to_streamed:GetStats().SendQueueBytes, "reply held in round " .. round)
    end
  end)
end)
