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

local receive_until_close = net.receive_until_close

--- Configures this state with `settings`, makes a server and starts a sender process
-- (spec/peers/sender.lua) on it with `args` after the port, closed when the test ends.
-- @return the server (held: a collected server closes) and the sender process
local function server_and_sender(settings, args, finally)
  network.Configure(settings)
  local server = assert(network.Server("127.0.0.1", 0))
  local sender = net.spawn_peer("sender", { server:GetPort(), table.unpack(args) }, { timeout = 60 })
  finally(function() sender:close() end)
  return server, sender
end

describe("a receiver paused longer than the sender's linger", function()
  before_each(net.reset)
  after_each(net.reset)

  it("still gets every message that arrived, then the close", function()
    local total = 2000
    local _server, sender = server_and_sender({ QueueFull = "wait", EventQueueSize = 100, PingInterval = 0.5 },
      { total, "disconnect", 100 }, finally)
    -- The script does not poll until the sender has finished, then 3 s more (longer than the
    -- 2 s the sender's close used to wait): the ring fills, reading pauses, the sender writes
    -- what the buffers take, disconnects and exits (its lua_close waits while it can).
    assert.is_truthy(sender:wait_for("^SENT", 10), sender:output())
    net.socket.sleep(3)
    local expected, errors, close, conn = receive_until_close()
    assert.is_truthy(close, "no close event")
    assert.are.same({}, errors)
    assert.are.equal(total + 1, expected)
    assert.is_truthy(conn)
  end)

  -- More than the sockets hold, less than they hold plus the sender's SendQueueLimit (64 MiB):
  -- a paused receiver's kernel buffer may have grown to tcp_rmem's most, 32 MiB here (of 40
  -- messages of 1 MiB, all arrived in 1 run of 4; of 80, the sender's queue filled).
  for _, case in ipairs { { 2000, 10000 }, { 60, 1024 * 1024 } } do
    local total, size = case[1], case[2]
    it("that never reads again is reset by a sender giving up, never told its stream was complete ("
       .. total .. " messages of " .. size .. " bytes)", function()
      -- The sender queues 20 or 60 MB, more than the sockets hold, and exits: its lua_close
      -- waits 5 s without progress, then gives up with messages still queued. It used to end
      -- the stream with a FIN: cut between two messages, the receiver saw "closed by peer", the
      -- rest missing without a word (cut inside one, "in the middle of a message"). Now a
      -- reset: every message that arrived, in order, then EVENT_ERROR "connection reset by
      -- peer". With messages of 1 MiB, a whole one waiting in the paused connection's input
      -- left no room to read into, and the read of 0 bytes that the reset's POLLHUP brought
      -- returned 0, taken for the end of the stream: "closed by peer" again (found by a review
      -- of embedding hosts, 2026-12-07).
      local _server, sender = server_and_sender({ QueueFull = "wait", EventQueueSize = 10 },
        { total, "exit", size }, finally)
      assert.is_truthy(sender:wait_for("^SENT", 20), sender:output())
      assert.are.equal(0, sender:wait(20), sender:output())
      local expected, errors, close = receive_until_close()
      assert.is_truthy(close, "no close event")
      assert.is_true(expected <= total, "all " .. total .. " arrived: the sockets held more than the test assumes")
      assert.are.same({ "connection reset by peer" }, errors)
    end)
  end

  it("that its sender times out with messages still queued is reset, never told its stream was complete", function()
    -- Found by a review of live settings (2026-12-07). This side sends no pings and, paused,
    -- answers none of the sender's: after its PeerTimeout (5 s) the sender gives up on it with
    -- 20 MB still queued. It ended the stream with a FIN ("closed by peer": the rest missing
    -- without a word); now with a reset, as any side that gives up with messages queued.
    local total = 2000
    local _server, sender = server_and_sender({ QueueFull = "wait", EventQueueSize = 10, PingInterval = 0, PeerTimeout = 0 },
      { total, "hold", 10000 }, finally)
    assert.is_truthy(sender:wait_for("^SENT", 20), sender:output())
    assert.is_truthy(sender:wait_for("^CLOSED peer timed out", 20), sender:output())
    local expected, errors, close = receive_until_close()
    assert.is_truthy(close, "no close event")
    assert.is_true(expected <= total, "all " .. total .. " arrived: the sockets held more than the test assumes")
    assert.are.same({ "connection reset by peer" }, errors)
  end)

  for _, case in ipairs { { "plain", nil }, { "encrypted", "0C03EA65238DD2C25EB87CE563868098" } } do
    it("whose peer dies: a failed ping loses none of what arrived (" .. case[1] .. ")", function()
      -- Encrypted, our ping meeting the dead peer's reset closed the connection at once: the
      -- 500 messages waiting in the socket were lost ("write failed: Broken pipe" after 99).
      local key = case[2]
      network.Configure({ QueueFull = "wait", EventQueueSize = 100, PingInterval = 0.2, PeerTimeout = 1 })
      local server = assert(network.Server("127.0.0.1", 0, key))
      local total = 500  -- about 60 KB: all of it fits in the socket's buffers
      local sender = net.spawn_peer("sender", { server:GetPort(), total, "hold", 100, 0, key or "" }, { timeout = 60 })
      finally(function() sender:close() end)
      assert.is_truthy(sender:wait_for("^FLUSHED", 10), sender:output())  -- all in the sockets
      os.execute("kill -KILL -" .. sender.pid)
      sender:wait(5)
      net.socket.sleep(1.5)        -- our pings meet the reset: writing fails
      local expected, errors, closed, conn = receive_until_close()
      assert.is_truthy(conn)
      assert.is_truthy(closed, "no close event; got up to seq " .. (expected - 1))
      assert.are.equal(total + 1, expected, "then " .. tostring(closed.Errors))
      -- A reset, or an end without TLS close_notify, is also an EVENT_ERROR; a plain FIN is not.
      assert.is_true(#errors <= 1, table.concat(errors, "; "))
      if key then assert.are.equal(1, #errors) end
      if errors[1] then assert.are.equal(errors[1], closed.Errors) end
    end)
  end
end)

describe("a connection whose peer is gone while reading is paused", function()
  before_each(net.reset)
  after_each(net.reset)

  it("survives a reset with a large message and more waiting: the messages, then the reset", function()
    -- Found by a review of the day's changes (2026-12-07): the read that the reset's POLLHUP
    -- brought asked for the rest of the large message, which was in with more behind it:
    -- a negative size, and the I/O thread trapped (SIGILL, the host gone), in "drop" mode
    -- too once EventQueueBytes was reached. Paused, nothing is read now.
    network.Configure({ QueueFull = "wait", EventQueueSize = 2 })
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.hello_peer(server:GetPort())
    finally(function() raw:close() end)
    local big = net.frame(network.Encode({ string.rep("x", 70000) }))
    -- The large message's header comes in two reads, so its body is not read alone.
    assert(raw:send(net.frame(network.Encode({ 1 })) .. big:sub(1, 2)))
    net.socket.sleep(0.2)
    assert(raw:send(big:sub(3) .. net.frame(network.Encode({ 3 }))))
    net.socket.sleep(0.2)
    raw:setoption("linger", { on = true, timeout = 0 })
    raw:close()
    net.socket.sleep(0.3)
    local got = {}  -- each event: the length of a message's string, or the code and reason
    for _, e in ipairs(net.collect({}, 1)) do
      got[#got + 1] = e.Event == network.EVENT_RECEIVE and #tostring(e.Packet[1])
        or e.Event == network.EVENT_CONNECT and "connect" or (e.Event .. " " .. tostring(e.Errors))
    end
    assert.are.same({ "connect", 1, 70000, 1, network.EVENT_ERROR .. " connection reset by peer",
      network.EVENT_CLIENT_CLOSE .. " connection reset by peer" }, got)
  end)

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
