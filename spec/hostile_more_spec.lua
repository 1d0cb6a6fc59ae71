-- More hostile peers (issue 8), beyond spec/hostile_spec.lua: a 4 GiB length prefix, a frame
-- and a hello trickled over seconds (slowloris), a peer that stops mid-frame, silent peers
-- whose slots must be freed, a ping flood from a peer that reads no pong, a live peer that
-- reads nothing while our pings come due, 10,000 tiny frames
-- in one burst, a close mid-frame, a nesting
-- bomb and a map declaring 2^32-1 pairs sent over the wire, a plain hello to an encrypted
-- server; then all of them over and over with the server's RSS and descriptors measured. In
-- every case the server stays up and a well-behaved client keeps exchanging messages.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local resources = require "resources"
local helper = require "helper"
local network = net.network

--- The server's good client check (`net.assert_still_working`).
local assert_still_working = net.assert_still_working

--- A raw peer that has sent a valid hello and been accepted; returns it and its connection.
local function accepted_raw_peer(server)
  local raw = net.hello_peer(server:GetPort())
  return raw, assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
end

--- Waits for the EVENT_ERROR then the EVENT_CLIENT_CLOSE of `c`; returns the error's text.
local function assert_error_then_close(c, seconds)
  local e = assert(net.wait({ Object = c }, seconds or 5))
  assert.are.equal(network.EVENT_ERROR, e.Event, net.describe(e))
  assert.is_true(#e.Errors > 0)
  local close = assert(net.wait({ Object = c }, 5))
  assert.are.equal(network.EVENT_CLIENT_CLOSE, close.Event, net.describe(close))
  return e.Errors
end

--- The bytes of the nesting bomb: 100,000 one-element arrays, one inside the other.
local NESTING_BOMB = ("\x91"):rep(100000) .. "\x90"
--- A map declaring 4,294,967,295 pairs and holding none.
local HUGE_MAP = "\xdf\xff\xff\xff\xff"

describe("a hostile peer (more)", function()
  before_each(net.reset)
  after_each(net.reset)

  it("that resets with our messages unread is reported as a reset, also when our Send meets it", function()
    -- A peer that closes with data unread resets the connection. When the script's own Send
    -- is the first to meet the reset (an isolated Send is written from its thread), that
    -- write takes the socket's error and the read after it finds a plain end: it used to be
    -- reported as an orderly close, hiding that the messages sent were lost.
    local server = assert(network.Server("127.0.0.1", 0))
    for round = 1, 10 do
      local raw, c = accepted_raw_peer(server)
      assert.are.equal(1, server:Send({ unread = round }, c))
      net.socket.sleep(0.01)  -- it has arrived, unread
      raw:setoption("linger", { on = true, timeout = 0 })
      raw:close()  -- a reset
      server:Send({ after = round }, c)
      local why = assert_error_then_close(c)
      assert.is_truthy(why:find("reset", 1, true) or why:find("broken pipe", 1, true),
        "round " .. round .. ": " .. why)
    end
  end)

  it("a 4 GiB length prefix is refused from the header alone, before any body", function()
    local server, client, c = net.pair()
    local raw, bad = accepted_raw_peer(server)
    finally(function() raw:close() end)
    local before = resources.rss_kb()
    assert(raw:send(net.frame("", 0, 0xFFFFFFFF)))
    local why = assert_error_then_close(bad)
    assert.is_truthy(why:find("4294967295 bytes is over MaxMessageSize", 1, true), why)
    resources.assert_rss_growth(resources.rss_kb() - before, 8 * 1024)
    assert.are.equal(1, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)

  it("a frame trickled one byte at a time over 3 s arrives whole while the others are served", function()
    local server, client, c = net.pair()
    local raw, slow = accepted_raw_peer(server)
    finally(function() raw:close() end)
    local bytes = net.frame(network.Encode({ slow = ("s"):rep(40) }), 0)
    local step = 3.0 / #bytes
    local start = net.now()
    for i = 1, #bytes do
      assert(raw:send(bytes:sub(i, i)))
      -- The good client is served in the meantime (each exchange also waits out the step).
      if i % 10 == 0 then assert_still_working(server, client, c) end
      local until_next = start + i * step - net.now()
      if until_next > 0 then net.socket.sleep(until_next) end
    end
    assert.is_true(net.now() - start >= 2.9)
    local e = assert(net.wait_kind(network.EVENT_RECEIVE, slow, 5))
    assert.are.same({ slow = ("s"):rep(40) }, e.Packet)
    assert.are.equal(2, server:ConnectionCount())
  end)

  it("a hello trickled slower than HelloTimeout is refused with EVENT_ERROR and frees the slot", function()
    network.Configure({ HelloTimeout = 0.5 })
    local server, client, c = net.pair()
    local raw, port = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    raw:setoption("tcp-nodelay", true)
    for i = 1, 4 do
      assert(raw:send(net.HELLO:sub(i, i)))
      net.socket.sleep(0.2)
    end
    local e = assert(net.wait_kind(network.EVENT_ERROR, server, 5))
    assert.is_truthy(e.Errors:find("127.0.0.1:" .. port .. ": no hello", 1, true), e.Errors)
    assert.are.equal(1, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)

  it("a peer that stops in the middle of a frame is closed at PeerTimeout", function()
    network.Configure({ PingInterval = 0.2, PeerTimeout = 1.0 })
    local server, client, c = net.pair()
    local raw, bad = accepted_raw_peer(server)
    finally(function() raw:close() end)
    assert(raw:send(net.frame(network.Encode({ 1, 2, 3 }), 0):sub(1, 7)))
    local start = net.now()
    local close = assert(net.wait({ Object = bad }, 5))
    assert.are.equal(network.EVENT_CLIENT_CLOSE, close.Event, net.describe(close))
    assert.is_truthy(close.Errors:find("peer timed out", 1, true), close.Errors)
    assert.is_true(net.now() - start < 2.5)
    assert.are.equal(1, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)

  it("50 peers that connect and say nothing each get EVENT_ERROR at HelloTimeout; their descriptors are freed", function()
    network.Configure({ HelloTimeout = 0.5 })
    local server, client, c = net.pair()
    local fds = resources.settled_fd_count()
    local raws, ports = {}, {}
    finally(function() for _, raw in ipairs(raws) do raw:close() end end)
    for i = 1, 50 do raws[i], ports[i] = net.raw_connect(server:GetPort()) end
    local seen = {}
    for _ = 1, 50 do
      local e = assert(net.wait_kind(network.EVENT_ERROR, server, 5))
      local port = tonumber(e.Errors:match("^127%.0%.0%.1:(%d+): no hello"))
      assert.is_truthy(port, e.Errors)
      seen[port] = true
    end
    for i = 1, 50 do assert.is_true(seen[ports[i]], "no error for port " .. ports[i]) end
    -- Each raw socket reads the server's hello, then the end: the server closed its side.
    for _, raw in ipairs(raws) do
      raw:settimeout(2)
      local data, err, partial = raw:receive("*a")
      assert.are.equal(net.HELLO, data or partial, tostring(err))
      raw:close()
    end
    raws = {}
    assert.are.equal(fds, resources.wait_fd_count(fds, 5))
    assert.are.equal(1, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)

  it("64 MiB of pings from a peer that reads no pong leave memory put; pings are answered again once it reads", function()
    local server, client, c = net.pair()
    local raw, flooder = accepted_raw_peer(server)
    finally(function() raw:close() end)
    local ping = net.frame("12345678", 1)
    local chunk = ping:rep((64 * 1024) // #ping)
    local rounds = (64 * 1024 * 1024) // #chunk
    local before = resources.rss_kb()
    for _ = 1, rounds do assert(raw:send(chunk)) end
    local flood = #net.HELLO + rounds * #chunk
    assert.is_truthy(helper.wait_until(function() return flooder:GetStats().BytesReceived >= flood end, 20),
      "the server did not read the flood")
    -- 5 million pongs would be 64 MiB; only those that fit under 64 KiB of send queue wait.
    resources.assert_rss_growth(resources.rss_kb() - before, 8 * 1024, "for 5 million pings")
    assert_still_working(server, client, c)
    -- Read what was answered (socket buffers and the queue's 64 KiB), then a new ping's pong.
    raw:settimeout(0.5)
    repeat local got = raw:receive(65536) until not got
    raw:settimeout(5)
    assert(raw:send(net.frame("ABCDEFGH", 1)))
    local reply = ""
    repeat reply = reply .. assert(raw:receive(#ping)) until reply:find(net.frame("ABCDEFGH", 2), 1, true)
    assert.are.equal(2, server:ConnectionCount())
  end)

  it("a peer that stays alive and reads nothing: our pings stop at SendQueueLimit, as messages do", function()
    network.Configure({ SendQueueLimit = 1024, PingInterval = 0.01, PeerTimeout = 5 })
    local server, client, c = net.pair()
    local raw, idle = accepted_raw_peer(server)
    finally(function() raw:close() end)
    -- Fill the kernel's buffers, then the send queue: until nothing more is written for 50 ms.
    local message, deadline, written = { string.rep("x", 100000) }, net.now() + 10, -1
    while net.now() < deadline do
      local count, problem = server:Send(message, idle)
      if count == 0 then
        assert.is_truthy(problem:find("send queue full", 1, true), problem)
        if idle:GetStats().BytesSent == written then break end
        written = idle:GetStats().BytesSent
        require("socket").sleep(0.05)
      end
    end
    assert.is_true(net.now() < deadline, "the peer's buffers never filled")
    local queued = idle:GetStats().SendQueueBytes
    assert.is_true(queued > 1024, queued)
    -- A second: 100 ping intervals, the peer alive (a message every 10 ms) and reading nothing.
    local second = net.now() + 1
    while net.now() < second do
      assert(raw:send(net.frame("\x91\x01", 0)))
      require("socket").sleep(0.01)
      network.PollEvents(0)
    end
    -- Before: 13 bytes more a ping (1,300 in this second), without end.
    assert.is_true(idle:GetStats().SendQueueBytes <= queued + 13,
      "queue " .. queued .. " -> " .. idle:GetStats().SendQueueBytes .. " bytes")
    assert.are.equal(2, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)

  it("10,000 tiny frames in one burst all arrive, in order (QueueFull = \"wait\")", function()
    network.Configure({ QueueFull = "wait" })
    local server, client, c = net.pair()
    local raw, burst = accepted_raw_peer(server)
    finally(function() raw:close() end)
    local frames = {}
    for i = 1, 10000 do frames[i] = net.frame(network.Encode({ i }), 0) end
    assert(raw:send(table.concat(frames)))
    local next_seq = 1
    local deadline = net.now() + 20
    while next_seq <= 10000 and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        assert.are.equal(network.EVENT_RECEIVE, e.Event, net.describe(e))
        assert.is_true(rawequal(burst, e.Object))
        assert.are.equal(next_seq, e.Packet[1])
        next_seq = next_seq + 1
      end
    end
    assert.are.equal(10001, next_seq)
    assert.are.equal(10000, burst:GetStats().MessagesReceived)
    assert_still_working(server, client, c)
  end)

  it("a close in the middle of a frame gives EVENT_ERROR then EVENT_CLIENT_CLOSE", function()
    local server, client, c = net.pair()
    local raw, bad = accepted_raw_peer(server)
    assert(raw:send(net.frame(network.Encode({ ("x"):rep(100) }), 0):sub(1, 60)))
    raw:close()
    local why = assert_error_then_close(bad)
    assert.is_truthy(why:find("in the middle of a message", 1, true), why)
    assert_still_working(server, client, c)
  end)

  local bombs = {
    { "a nesting bomb (100,000 levels)", NESTING_BOMB, "nest" },
    { "a map declaring 4,294,967,295 pairs", HUGE_MAP, "malformed" },
    { "an array declaring 4,294,967,295 elements", "\xdd\xff\xff\xff\xff", "malformed" },
    { "a string declaring 4 GiB", "\x91\xdb\xff\xff\xff\xff", "malformed" },
  }
  for _, case in ipairs(bombs) do
    it(case[1] .. " over the wire is refused with EVENT_ERROR; memory stays put", function()
      local server, client, c = net.pair()
      local raw, bad = accepted_raw_peer(server)
      finally(function() raw:close() end)
      local before = resources.settled_rss_kb()
      assert(raw:send(net.frame(case[2], 0)))
      local why = assert_error_then_close(bad)
      assert.is_true(select(2, why:gsub("malformed message", "")) <= 1, why)  -- not said twice
      assert.is_truthy(why:find(case[3], 1, true), why)
      resources.assert_rss_growth(resources.settled_rss_kb() - before, 8 * 1024)
      assert_still_working(server, client, c)
    end)
  end

  it("a map of keys chosen to collide in Lua's tables over the wire is refused with EVENT_ERROR, not decoded for seconds", function()
    local server, client, c = net.pair()
    local raw, bad = accepted_raw_peer(server)
    finally(function() raw:close() end)
    -- 100,000 integer keys in one bucket of Lua 5.4.4's hash part (key % 131071): inserting
    -- them would take the script about 12 s.
    local parts = { "\xdf", string.pack(">I4", 100000) }
    for j = 1, 100000 do parts[#parts + 1] = "\xd3" .. string.pack(">i8", j * 131071) .. "\x01" end
    assert(raw:send(net.frame(table.concat(parts), 0)))
    local why = assert_error_then_close(bad)
    assert.is_truthy(why:find("its number keys collide in Lua's tables", 1, true), why)
    assert_still_working(server, client, c)
  end)

  it("64 nested maps each declaring as many pairs as bytes remain, with number keys, are refused without memory to match", function()
    local server, client, c = net.pair()
    local raw, bad = accepted_raw_peer(server)
    finally(function() raw:close() end)
    -- 1 MiB: each level declares about 512 Ki pairs; following their keys used to set aside
    -- counters for every level's declared size (267 MB of peak RSS) before the fault at byte 385.
    local size, parts, used = 1 << 20, {}, 0
    for _ = 1, 64 do
      parts[#parts + 1] = "\xdf" .. string.pack(">I4", (size - used - 5) // 2 - 1) .. "\x01"
      used = used + 6
    end
    parts[#parts + 1] = ("\xc0"):rep(size - used)
    collectgarbage()
    resources.reset_peak_rss()
    local before = resources.rss_kb()
    assert(raw:send(net.frame(table.concat(parts), 0)))
    local why = assert_error_then_close(bad)
    assert.is_truthy(why:find("nil map key", 1, true), why)
    resources.assert_rss_growth(resources.peak_rss_kb() - before, 32 * 1024, "at the peak")
    assert_still_working(server, client, c)
  end)

  it("a pong nobody asked for is ignored: RTT stays finite, and the answers to our pings are measured", function()
    network.Configure({ PingInterval = 0.1 })
    local server = net.pair()
    local raw, bad = accepted_raw_peer(server)
    finally(function() raw:close() end)
    -- Stamped -inf and NaN: the first made RTT inf and SmoothedRTT NaN for good.
    assert(raw:send(net.frame(string.pack(">d", -math.huge), 2) .. net.frame(string.pack(">d", 0 / 0), 2)))
    -- Then answer the server's pings (13 bytes each) for a second, as a peer does.
    raw:settimeout(0.05)
    local pending, answered = "", 0
    local deadline = net.now() + 1
    while net.now() < deadline do
      local got, _, partial = raw:receive(13)
      pending = pending .. (got or partial or "")
      while #pending >= 13 do
        local frame = pending:sub(1, 13)
        pending = pending:sub(14)
        assert.are.equal(1, frame:byte(5), "not a ping")
        assert(raw:send(net.frame(frame:sub(6), 2)))
        answered = answered + 1
      end
    end
    assert.is_true(answered >= 3, "pings answered: " .. answered)
    local stats = bad:GetStats()
    assert.is_number(stats.RTT)
    assert.is_true(stats.RTT >= 0 and stats.RTT < 1, "RTT " .. tostring(stats.RTT))
    assert.is_true(stats.SmoothedRTT >= 0 and stats.SmoothedRTT < 1, "SmoothedRTT " .. tostring(stats.SmoothedRTT))
  end)

  it("a plain mmnet hello to an encrypted server is refused with EVENT_ERROR", function()
    local server, why = network.Server("127.0.0.1", 0, ("ab"):rep(16))
    if not server then
      pending("encryption not available in this build: " .. tostring(why))
      return
    end
    local raw, port = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    assert(raw:send(net.HELLO))
    local e = assert(net.wait_kind(network.EVENT_ERROR, server, 5))
    assert.is_truthy(e.Errors:find("127.0.0.1:" .. port, 1, true), e.Errors)
    assert.are.same({}, net.collect({ Event = network.EVENT_CONNECT }, 0.2))
    -- And a plain mmnet client to it fails to connect, with a reason.
    local plain = assert(network.Client("127.0.0.1", server:GetPort()))
    local connected = assert(net.wait_kind(network.EVENT_CONNECTED, plain, 5))
    assert.is_false(connected.Result)
    assert.is_true(#connected.Errors > 0)
  end)

  it("out of descriptors, a server reports the accept failure once, not at every retry, and accepts again once some are freed", function()
    -- A process limited to 64 descriptors connects 60 clients to its own server ("drop" mode,
    -- where accepting is retried every 0.1 s). Before: one EVENT_ERROR a retry, 20 in 2 s.
    local chunk = [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))
      local clients = {}
      for _ = 1, 60 do clients[#clients + 1] = network.Client("127.0.0.1", server:GetPort()) end
      local errors, held, deadline = 0, {}, os.time() + 2
      repeat
        for _, e in ipairs(network.PollEvents(0.1)) do
          if e.Event == network.EVENT_ERROR and e.Object == server then
            assert(e.Errors:find("Too many open files", 1, true), e.Errors)
            errors = errors + 1
          elseif e.Event == network.EVENT_CONNECT then held[#held + 1] = e.Object end
        end
      until os.time() > deadline
      print("ACCEPT ERRORS " .. errors)
      -- Clients whose connect waits in the backlog get in once descriptors are freed. There
      -- may be none: a Client that failed after its socket was made freed a descriptor for a
      -- moment, and a retry took it. So one more client connects once descriptors are free.
      for i = 1, 10 do clients[i]:Disconnect() end
      local accepted, late = 0, nil
      deadline = os.time() + 4
      repeat
        late = late or network.Client("127.0.0.1", server:GetPort())
        for _, e in ipairs(network.PollEvents(0.1)) do
          if e.Event == network.EVENT_CONNECT then accepted = accepted + 1; held[#held + 1] = e.Object end
        end
      until accepted > 0 or os.time() > deadline
      print(accepted > 0 and "ACCEPTING AGAIN" or "STUCK")
    ]]
    local ok, code, out = helper.run("ulimit -n 64; " .. helper.tree_env() .. " " .. helper.lua .. " -e " ..
      helper.quote(chunk), 30)
    assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
    assert.is_truthy(out:find("ACCEPT ERRORS 1\n", 1, true), out)
    assert.is_truthy(out:find("ACCEPTING AGAIN", 1, true), out)
  end)

  it("every bad peer above, 20 rounds: RSS and descriptors stay bounded, ConnectionCount back to 1", function()
    network.Configure({ HelloTimeout = 0.3, MaxMessageSize = 1024 * 1024 })
    local server, client, c = net.pair()
    local bad_streams = {
      net.HELLO .. net.frame("", 0, 0xFFFFFFFF),
      net.HELLO .. net.frame(NESTING_BOMB, 0),
      net.HELLO .. net.frame(HUGE_MAP, 0),
      net.HELLO .. net.frame("abc", 7),
      net.HELLO .. net.frame(("y"):rep(1000), 0, 900 * 1024),   -- announced 900 KiB, then closed
      "GET / HTTP/1.1\r\n\r\n",
      "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
      "",                                                        -- silent until HelloTimeout
    }
    local function wait_count(n)
      local deadline = net.now() + 5
      while server:ConnectionCount() ~= n and net.now() < deadline do net.pump(0.02) end
      return server:ConnectionCount() == n
    end
    local function round()
      local raws = {}
      for i, bytes in ipairs(bad_streams) do
        raws[i] = net.raw_connect(server:GetPort())
        if #bytes > 0 then assert(raws[i]:send(bytes)) end
      end
      -- Every bad peer gets an EVENT_ERROR (refused ones on the server, accepted ones on
      -- their connection); the announced-900-KiB one when its peer closes mid-frame.
      raws[5]:close()
      for _ = 1, #bad_streams do
        assert(net.wait_kind(network.EVENT_ERROR, nil, 5))
      end
      for i, raw in ipairs(raws) do if i ~= 5 then raw:close() end end
      assert(wait_count(1))
      net.collect({ Event = network.EVENT_CLIENT_CLOSE }, 0)
      net.collect({ Event = network.EVENT_CONNECT }, 0)
    end
    round()
    local fds, rss = resources.settled_fd_count(), resources.settled_rss_kb()
    for _ = 1, 20 do round() end
    local grown = resources.settled_rss_kb() - rss
    local fds_after = resources.wait_fd_count(fds, 5)
    print(string.format("\n  hostile rounds: 20 x %d bad peers, RSS %+d KiB, descriptors %d -> %d",
      #bad_streams, grown, fds, fds_after))
    resources.assert_rss_growth(grown, 8 * 1024, "over 20 rounds")
    assert.are.equal(fds, fds_after)
    assert.are.equal(1, server:ConnectionCount())
    assert_still_working(server, client, c)
  end)
end)
