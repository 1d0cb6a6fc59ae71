-- A connection closing at our request drops what its peer still sends, and must do so
-- cheaply: after large frames it read a frame header (5 bytes) per read(2), so a peer writing
-- on took a whole CPU until the linger ran out, and a process exiting with large messages
-- queued both ways on one link (each side flushing into the other) took 30 s to close.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local helper = require "helper"
local network = net.network

describe("a closing connection whose peer writes on", function()
  before_each(net.reset)
  after_each(net.reset)

  it("drops what arrives without spinning (after large frames)", function()
    local server, client, c = net.pair()
    local big = { string.rep("x", 1024 * 1024) }
    -- One large message reaches the client: its connection now expects large frames.
    assert.are.equal(1, server:Send(big, c))
    assert(net.wait_kind(network.EVENT_RECEIVE, client, 5))
    for _ = 1, 60 do server:Send(big, c) end
    client:Disconnect()
    -- The server writes 60 MiB into the closing client for as long as it reads them.
    local cpu = os.clock()
    net.socket.sleep(1)
    cpu = os.clock() - cpu
    -- Before: 1.0 s of CPU in this second (149,251 reads of 5 bytes in 3 s).
    assert.is_true(cpu < 0.5, string.format("%.2f s of CPU in 1 s of sleep", cpu))
  end)

  it("lets a process exit promptly with large messages queued both ways on one link", function()
    local peer = helper.spawn(net.peer_command("exit_midtraffic"), { timeout = 60 })
    finally(function() peer:close() end)
    assert(peer:wait_for("^EXITING", 20), peer:output())
    -- Before: about 30 s. lua_close waits 5 s at most for a close that makes no progress.
    assert.are.equal(0, peer:wait(10), "still closing after 10 s, or failed: " .. peer:output())
  end)
end)

describe("a peer that closes only its own direction (a half-close) after its requests", function()
  before_each(net.reset)
  after_each(net.reset)

  for _, disconnect in ipairs { false, true } do
    it("still gets every reply queued for it, then the close" ..
        (disconnect and " (the script disconnecting it first)" or ""), function()
      -- Found by an independent peer written from PROTOCOL.md: the side that got the FIN
      -- closed at once and dropped what Send had accepted and not yet written (6 of 20 replies
      -- of 1 MiB arrived), and so did a side closing at its script's request (Disconnect, or
      -- its ClientConnection collected) when the peer's FIN came before its queue was out.
      -- Now the queue is written out, then the socket closes after the last byte.
      local server = assert(network.Server("127.0.0.1", 0))
      local raw = net.hello_peer(server:GetPort())
      finally(function() raw:close() end)
      local requests, pad = 20, string.rep("r", 1024 * 1024)
      local frames = {}
      for i = 1, requests do frames[i] = net.frame(network.Encode({ seq = i })) end
      assert(raw:send(table.concat(frames)))
      -- The replies are queued while the peer reads nothing: more than the sockets hold.
      local conn, replied, deadline = nil, 0, net.now() + 10
      while replied < requests and net.now() < deadline do
        for _, e in ipairs(network.PollEvents(0.05)) do
          if e.Event == network.EVENT_CONNECT then
            conn = e.Object  -- held: a ClientConnection collected closes
          elseif e.Event == network.EVENT_RECEIVE then
            assert.are.equal(1, server:Send({ seq = e.Packet.seq, pad = pad }, e.Object))
            replied = replied + 1
          else
            error("unexpected " .. net.describe(e))
          end
        end
      end
      assert.are.equal(requests, replied)
      if disconnect then assert.are.equal(1, server:Disconnect(conn)) end
      assert(raw:shutdown("send"))
      -- The peer reads to the end of the stream; the script sees the close at once.
      raw:settimeout(0.05)
      local buffer, seqs, ended, close = "", {}, false, nil
      deadline = net.now() + 20
      while not ended and net.now() < deadline do
        local data, err, partial = raw:receive(256 * 1024)
        buffer = buffer .. (data or partial or "")
        while #buffer >= 5 do
          local length = string.unpack(">I4", buffer)
          if #buffer < 5 + length then break end
          seqs[#seqs + 1] = network.Decode(buffer:sub(6, 5 + length)).seq
          buffer = buffer:sub(6 + length)
        end
        ended = err == "closed"
        for _, e in ipairs(network.PollEvents(0)) do
          if e.Event == network.EVENT_CLIENT_CLOSE then close = e end
        end
      end
      assert.is_true(ended, "the stream did not end")
      assert.are.equal("", buffer)
      local expected = {}
      for i = 1, requests do expected[i] = i end
      assert.are.same(expected, seqs)
      if disconnect then
        assert.is_nil(close, "a close the script asked for has no event")
      else
        assert.is_truthy(close, "no EVENT_CLIENT_CLOSE")
        assert.are.equal("closed by peer", close.Errors)
        assert.is_nil(conn:GetSocket())
      end
    end)
  end

  it("that resets instead of reading on is forgotten at once, not after the linger", function()
    -- A side writing out after the peer's end stops reading; when the peer then resets, the
    -- failed write (or the error poll(2) reports) must end it: no 10 s wait, no spinning.
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.hello_peer(server:GetPort())
    finally(function() raw:close() end)
    assert(raw:send(net.frame(network.Encode({ seq = 1 }))))
    local conn, deadline = nil, net.now() + 10
    while not conn and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_RECEIVE then conn = e.Object end
      end
    end
    assert.is_truthy(conn)
    local pad = string.rep("r", 1024 * 1024)
    for i = 1, 20 do assert.are.equal(1, server:Send({ seq = i, pad = pad }, conn)) end
    assert(raw:shutdown("send"))
    assert(net.wait_kind(network.EVENT_CLIENT_CLOSE, conn, 5))
    assert.are.equal(1, network.GetStats().Connections, "writing out its replies")
    raw:setoption("linger", { on = true, timeout = 0 })
    raw:close()  -- unread replies in its socket: a reset
    local cpu, start = os.clock(), net.now()
    while network.GetStats().Connections > 0 and net.now() - start < 5 do net.socket.sleep(0.02) end
    assert.are.equal(0, network.GetStats().Connections)
    assert.is_true(net.now() - start < 2, string.format("forgotten after %.1f s", net.now() - start))
    assert.is_true(os.clock() - cpu < 0.5, string.format("%.2f s of CPU meanwhile", os.clock() - cpu))
  end)
end)
