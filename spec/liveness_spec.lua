-- Live connections: mmnet's own pings never reach the script but measure the round trip;
-- a peer silent for PeerTimeout is declared gone on both sides ("peer timed out after N s",
-- close event only) -- through a userspace relay that stops forwarding without closing
-- anything, and through a veth link between two network namespaces taken down mid-session
-- (root only; pending with the reason where namespaces cannot be made); PeerTimeout = 0
-- keeps a stalled connection open; a PingInterval under the sweep is honoured; TCP keepalive.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

--- Short liveness settings, so that the tests stay quick.
local PING, TIMEOUT = 0.2, 1

--- A relay process (spec/peers/relay.py) in front of `port`, and the file that stalls it.
-- @return the process, its port, a function stall(on) that stops (true) or resumes (false)
--   forwarding, and the temp dir to clean up
local function start_relay(port)
  local dir = helper.tempdir()
  local control = dir .. "/stall"
  local relay = helper.spawn("exec /usr/bin/python3 " .. helper.quote(helper.root .. "/spec/peers/relay.py") ..
    " " .. port .. " " .. helper.quote(control), { timeout = 60 })
  local line = relay:wait_for("^PORT %d+", 10)
  assert(line, "relay did not start: " .. relay:output())
  local function stall(on)
    if on then helper.write_file(control, "") else os.remove(control) end
  end
  return relay, tonumber(line:match("%d+")), stall, dir
end

--- A server, a client connected to it through a relay, and the server's connection.
local function relayed_pair()
  local server = assert(network.Server("127.0.0.1", 0))
  local relay, port, stall, dir = start_relay(server:GetPort())
  local client = assert(network.Client("127.0.0.1", port))
  local connected = assert(net.wait_kind(network.EVENT_CONNECTED, client, 5))
  assert(connected.Result == true, connected.Errors)
  local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
  return server, client, c, relay, stall, dir
end

--- Asserts a message goes each way between client and connection `c` of `server`.
local function assert_exchange(server, client, c, tag)
  assert.is_true(client:Send({ up = tag }))
  assert.are.same({ up = tag }, assert(net.wait_kind(network.EVENT_RECEIVE, c, 5)).Packet)
  assert.are.equal(1, server:Send({ down = tag }, c))
  assert.are.same({ down = tag }, assert(net.wait_kind(network.EVENT_RECEIVE, client, 5)).Packet)
end

describe("liveness", function()
  before_each(net.reset)
  after_each(net.reset)

  it("the defaults are PingInterval 1 s and PeerTimeout 5 s", function()
    assert.are.equal(1, net.defaults.PingInterval)
    assert.are.equal(5, net.defaults.PeerTimeout)
  end)

  it("pings never reach the script, yet measure the round trip on both sides", function()
    network.Configure({ PingInterval = 0.05, PeerTimeout = TIMEOUT })
    local server, client, c = net.pair()
    -- Eight ping intervals of an idle connection: not one event.
    assert.are.same({}, net.collect(function() return true end, 0.4))
    for _, obj in ipairs { client, c, server } do
      local stats = obj:GetStats()
      assert.is_number(stats.RTT)
      assert.is_number(stats.SmoothedRTT)
      assert.is_true(stats.RTT >= 0 and stats.RTT < 0.2, tostring(stats.RTT))
      assert.is_true(stats.SmoothedRTT >= 0 and stats.SmoothedRTT < 0.2, tostring(stats.SmoothedRTT))
      -- No message went anywhere: pings and pongs are not messages.
      assert.are.equal(0, stats.MessagesSent)
      assert.are.equal(0, stats.MessagesReceived)
    end
    -- Still open and working.
    assert_exchange(server, client, c, "after pings")
  end)

  it("answers every ping with its bytes, also several pings that one read brings", function()
    -- Before, only the newest ping of a read was answered: an independent peer's check, which
    -- waited for the answer to its own ping, failed about 1 run in 30 when its automatic ping
    -- followed 0.1 ms later (tests/interop), and this case every time.
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.hello_peer(server:GetPort())
    finally(function() raw:close() end)
    local first, second = "\1\2\3\4\5\6\7\8", "\8\7\6\5\4\3\2\1"
    assert(raw:send(net.frame(first, 1) .. net.frame(second, 1)))  -- one write: one read there
    local pongs = {}
    local deadline = net.now() + 5
    while #pongs < 2 and net.now() < deadline do
      local length, kind = string.unpack(">I4B", assert(raw:receive(5)))
      local body = assert(raw:receive(length))
      if kind == 2 then pongs[#pongs + 1] = body end  -- the server's own pings come too
    end
    assert.are.same({ first, second }, pongs)
  end)

  it("no pings with PingInterval = 0 (and PeerTimeout = 0): no RTT, and not a byte past the hello", function()
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })
    local _, client, c = net.pair()
    net.collect(function() return true end, 0.3)
    for _, obj in ipairs { client, c } do
      local stats = obj:GetStats()
      assert.is_nil(stats.RTT)
      assert.is_nil(stats.SmoothedRTT)
      assert.are.equal(8, stats.BytesSent)
      assert.are.equal(8, stats.BytesReceived)
    end
  end)

  it("a PingInterval shorter than the I/O thread's 0.1 s sweep is honoured", function()
    -- Pings only at 0.1 s sweeps would leave a live peer silent past a PeerTimeout under
    -- 0.1 s. Counted rather than timed out, so that a loaded machine cannot fail it.
    network.Configure({ PingInterval = 0.02, PeerTimeout = 5 })
    local server, client, c = net.pair()
    local before = net.now()
    local base = client:GetStats().BytesSent
    assert.are.same({}, net.collect(function() return true end, 1))
    local elapsed = net.now() - before
    -- Client pings + pongs to the server's pings: about 2 / 0.02 s when honoured; at most
    -- 2 * (elapsed / 0.1 + 2) if pings waited for 0.1 s sweeps.
    local frames = (client:GetStats().BytesSent - base) // 13
    local sweep_bound = 2 * (elapsed / 0.1 + 2)
    assert.is_true(frames > 1.5 * sweep_bound, ("%d ping/pong frames in %.2f s"):format(frames, elapsed))
    assert_exchange(server, client, c, "after fast pings")
  end)

  it("a PingInterval just under PeerTimeout keeps an idle live connection open", function()
    -- Pings went out at the first 0.1 s sweep after they were due: 0.45 s became 0.5 s, and a
    -- PeerTimeout of 0.5 s closed the live peer first (on both sides, no ping ever sent).
    network.Configure({ PingInterval = 0.45, PeerTimeout = 0.5 })
    local server, client, c = net.pair()
    assert.are.same({}, net.collect(function() return true end, 1.5))
    assert.is_true(client:GetStats().BytesSent > 8, "no ping sent")
    assert_exchange(server, client, c, "after 1.5 s idle")
  end)

  it("both ends of a connection have TCP keepalive on, as a backstop", function()
    -- Both ends kept: a collected one would be closed.
    local server, client, c = net.pair()
    local port = server:GetPort()
    local ok, _, output = helper.run(("ss -tnoH state established '( sport = :%d or dport = :%d )'"):format(port, port), 10)
    assert(ok, output)
    local lines, keepalive = 0, 0
    for line in output:gmatch("[^\n]+") do
      lines = lines + 1
      if line:find("timer:(keepalive", 1, true) then keepalive = keepalive + 1 end
    end
    assert.are.equal(2, lines, output)
    assert.are.equal(2, keepalive, output)
    assert_exchange(server, client, c, "after the check")
  end)

  it("PeerTimeout must be longer than PingInterval, and both are checked", function()
    assert.has_error(function() network.Configure({ PingInterval = 1, PeerTimeout = 1 }) end)
    -- Before: "PeerTimeout must be longer than PingInterval", of a PeerTimeout of 2 and a
    -- PingInterval of 0.
    assert.has_error(function() network.Configure({ PingInterval = 0, PeerTimeout = 2 }) end,
      "Configure: PeerTimeout must be 0 (off) when PingInterval is 0 (pings are what keeps a live but quiet peer from timing out)")
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })
    network.Configure({ PingInterval = 1, PeerTimeout = 5 })
    assert.has_error(function() network.Configure({ PingInterval = -1 }) end)
    assert.has_error(function() network.Configure({ PeerTimeout = "5" }) end)
    -- Nothing changed by the refusals.
    assert.are.equal(1, network.Configure().PingInterval)
    assert.are.equal(5, network.Configure().PeerTimeout)
  end)

  it("turning PeerTimeout on, or shortening it, gives a live idle peer the new PeerTimeout to answer", function()
    -- Silence was counted from the last bytes received, before the change: an idle connection
    -- (no pings while they were off) was declared dead at the next sweep, a few ms after
    -- Configure, before the first ping could even be sent.
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })
    local server, client, c = net.pair()
    assert.are.same({}, net.collect(function() return true end, 1.5))
    network.Configure({ PingInterval = 0.2, PeerTimeout = 1 })
    assert.are.same({}, net.collect(function() return true end, 1.5))
    assert_exchange(server, client, c, "after turning liveness on")
    -- Shorter again, below the time since the last ping (PingInterval 0.2 s): still alive.
    network.Configure({ PingInterval = 5, PeerTimeout = 30 })
    assert.are.same({}, net.collect(function() return true end, 0.6))
    network.Configure({ PingInterval = 0.05, PeerTimeout = 0.3 })
    assert.are.same({}, net.collect(function() return true end, 1))
    assert_exchange(server, client, c, "after shortening PeerTimeout")
  end)

  it("a relay that stops forwarding: both sides close with 'peer timed out after 1 s' within PeerTimeout + 1 s", function()
    network.Configure({ PingInterval = PING, PeerTimeout = TIMEOUT })
    local server, client, c, relay, stall, dir = relayed_pair()
    finally(function() relay:close(); helper.cleanup(dir) end)
    assert_exchange(server, client, c, "before the stall")
    local t0 = net.now()
    stall(true)
    for _, want in ipairs { { network.EVENT_SERVER_CLOSE, client }, { network.EVENT_CLIENT_CLOSE, c } } do
      local e = assert(net.wait_kind(want[1], want[2], TIMEOUT + 3))
      assert.are.equal("peer timed out after 1 s", e.Errors)
      local after = e.Timestamp - t0
      -- Not before the peer had been silent for PeerTimeout (its last bytes came at most one
      -- ping interval and a sweep before the stall), and within PeerTimeout + 1 s.
      assert.is_true(after >= TIMEOUT - PING - 0.15, ("closed %.3f s after the stall"):format(after))
      assert.is_true(after <= TIMEOUT + 1, ("closed %.3f s after the stall"):format(after))
    end
    -- The close event only: a timeout is no protocol error.
    assert.are.same({}, net.collect({ Event = network.EVENT_ERROR }, 0.1))
    assert.are.equal(0, server:ConnectionCount())
    assert.are.equal(0, network.GetStats().Connections)
    local sent, problem = client:Send({ "late" })
    assert.is_false(sent)
    assert.is_string(problem)
    -- The relay never closed anything: it is still running.
    assert.is_nil(relay:exit_code())
  end)

  for _, case in ipairs {
    { name = "plain" },
    { name = "encrypted", key = ("ab"):rep(16) },
    -- More than a read's 64 KiB waiting, pings among it: each read parsed pings of its own.
    { name = "plain, 200 KB of messages waiting for it", waiting = 20 },
  } do
    it("a process stopped longer than its peer's PeerTimeout sees on waking only the close, 'closed by peer' (" ..
        case.name .. ")", function()
      -- A script paused in a debugger, a laptop's lid closed. Before, it got an EVENT_ERROR
      -- "write failed: Broken pipe" (plain: it answered the pings it found, one write each,
      -- and sent its own before reading the end behind them) or "peer closed the connection
      -- without TLS close_notify" (encrypted: a timeout closed without one), though nothing it
      -- sent was lost.
      if case.waiting and helper.sanitizer then
        -- Its peer too slow to empty the socket before it stops, what comes then does not fit:
        -- it waits in our send queue, and the timeout resets the connection (rightly).
        pending("under the " .. helper.sanitizer .. " sanitizer the socket's buffers are still full at the stop")
        return
      end
      network.Configure({ PingInterval = PING, PeerTimeout = TIMEOUT })
      local server = assert(network.Server("127.0.0.1", 0, case.key))
      local peer = net.spawn_peer("liveness_peer", { "client", "127.0.0.1", tostring(server:GetPort()),
        tostring(PING), "10", case.key }, { timeout = 40 })
      finally(function() peer:close() end)
      local c, echoed = nil, 0
      assert.is_truthy(helper.wait_until(function()
        for _, e in ipairs(network.PollEvents(0.05)) do
          if e.Event == network.EVENT_RECEIVE then
            c = e.Object
            assert.are.equal(1, server:Send(e.Packet, c))
            echoed = echoed + 1
          end
        end
        return echoed == 3
      end, 10), "echoed " .. echoed .. ": " .. peer:output())
      assert.is_truthy(peer:wait_for("^EXCHANGED", 5), peer:output())
      local chunk = { blob = ("x"):rep(10000) }
      --- Waits until the kernel has taken all we sent to the peer.
      local function all_taken(seconds)
        return helper.wait_until(function() return c:GetStats().SendQueueBytes == 0 end, seconds)
      end
      if case.waiting then
        -- Read at once: its socket's receive buffer grows to take what comes while it is
        -- stopped.
        for _ = 1, 300 do assert.are.equal(1, server:Send(chunk, c)) end
        assert.is_truthy(all_taken(10), "still queued: " .. c:GetStats().SendQueueBytes)
        helper.sleep(0.2)
      end
      -- `pid` is coreutils timeout's, the leader of a group with the peer in it.
      assert.is_true(os.execute("kill -STOP -" .. peer.pid))
      if case.waiting then
        helper.sleep(0.3)
        for _ = 1, case.waiting do assert.are.equal(1, server:Send(chunk, c)) end
        -- Nothing may wait in our send queue when the timeout comes: it would reset the
        -- connection (rightly: what waits is lost).
        assert.is_truthy(all_taken(0.5), "not taken by the kernel: " .. c:GetStats().SendQueueBytes)
      end
      local closed = assert(net.wait_kind(network.EVENT_CLIENT_CLOSE, nil, TIMEOUT + 3))
      assert.are.equal("peer timed out after 1 s", closed.Errors)
      helper.sleep(0.3)
      assert.is_true(os.execute("kill -CONT -" .. peer.pid))
      assert.is_truthy(peer:wait_for("^CLOSED", 5), peer:output())
      assert.are.equal(0, peer:wait(5), peer:output())
      assert.is_falsy(peer:output():find("ERROR", 1, true), peer:output())
      assert.is_truthy(peer:output():find("CLOSED [%d.]+ closed by peer\n"), peer:output())
    end)
  end

  it("a process stopped longer than its PeerTimeout while a live peer streams to it reads on waking " ..
      "what came, and keeps the peer", function()
    -- A debugger's pause in a game client that the server keeps sending to. Before, the
    -- client's I/O thread, stopped between a poll and its liveness sweep (a busy stream keeps
    -- it between the two much of the time), judged on waking by what that poll had seen: the
    -- peer silent since the stop. It closed the live server ("peer timed out after 1 s"),
    -- resetting it, and dropped every message that had come meanwhile (a user's trial: 2 runs
    -- of 2 with this setting, 6 of 9 with the server's own timeout on).
    network.Configure({ PeerTimeout = 0 })  -- this side never times the stopped one out
    local server = assert(network.Server("127.0.0.1", 0))
    -- Its PeerTimeout short, for many stops: a stop finds its I/O thread between a poll and a
    -- sweep now and then (before the fix: 3 runs of this spec in 5 failed here, 1 in 8 in a
    -- review's runs, and 14 of 16 runs of 8 stops by hand; the next case is the deterministic
    -- guard).
    local peer_timeout = 0.4
    local peer = net.spawn_peer("stopped_reader", { tostring(server:GetPort()), "0.1", tostring(peer_timeout) },
      { timeout = 40 })
    finally(function() peer:close() end)
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    assert.is_truthy(peer:wait_for("^CONNECTED", 5), peer:output())
    local sent = 0
    --- Streams to the peer for `seconds`: a message for each of its own (a reply each, which
    -- keeps its I/O thread turning), and one every millisecond while it is stopped.
    local function stream(seconds)
      local stop = net.now() + seconds
      while net.now() < stop do
        for _ = 1, math.max(1, #network.PollEvents(0.001)) do
          sent = sent + 1
          assert.are.equal(1, server:Send({ n = sent }, c))
        end
      end
    end
    stream(0.5)
    -- Each stop lands wherever the peer's I/O thread is at that moment.
    for _ = 1, 10 do
      -- `pid` is coreutils timeout's, the leader of a group with the peer in it.
      assert.is_true(os.execute("kill -STOP -" .. peer.pid))
      stream(peer_timeout + 0.2)
      assert.is_true(os.execute("kill -CONT -" .. peer.pid))
      stream(0.3)
    end
    assert.are.equal(1, server:Send({ stop = sent }, c))
    assert.is_truthy(peer:wait_for("^DONE", 20), peer:output())
    assert.are.equal(0, peer:wait(5), peer:output())
    -- Every message, in order, and no ERROR, CLOSED or GAP line.
    assert.are.equal(("CONNECTED\nDONE %d %d\n"):format(sent, sent), peer:output())
  end)

  it("a live peer is not timed out while the I/O thread spends longer than its PeerTimeout on another's message",
      function()
    -- The same stale judgement without a stop: before, the sweep after a long turn of the I/O
    -- thread (checking a message of 16 million nils took 0.2 to 0.4 s here) judged every peer
    -- by the poll before that turn, and timed out and reset a live peer whose pings had come
    -- meanwhile (3 runs of 3).
    if helper.sanitizer then
      -- The debug build under a sanitizer took longer than the 30 s below to check the message
      -- (make test-tsan), and the next spec's connect waited behind it.
      pending("under the " .. helper.sanitizer .. " sanitizer checking 16 million nils takes the I/O thread too long")
      return
    end
    network.Configure({ PingInterval = 0.02, PeerTimeout = 0.1 })
    local server = assert(network.Server("127.0.0.1", 0))
    local peer = net.spawn_peer("liveness_peer", { "client", "127.0.0.1", tostring(server:GetPort()), "0.02", "10" },
      { timeout = 40 })
    finally(function() peer:close() end)
    local live
    for _ = 1, 3 do
      local e = assert(net.wait_kind(network.EVENT_RECEIVE, nil, 10))
      live = e.Object
      assert.are.equal(1, server:Send(e.Packet, live))
    end
    assert.is_truthy(peer:wait_for("^EXCHANGED", 5), peer:output())
    -- A raw peer says its hello and sends the message at once (it answers no ping, so it is
    -- timed out after it, rightly).
    local nils = 16 * 1024 * 1024 - 16
    local raw = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    assert(raw:send(net.HELLO .. net.frame("\x81\xa1a\xdd" .. string.pack(">I4", nils) .. ("\xc0"):rep(nils))))
    local got = assert(net.wait_kind(network.EVENT_RECEIVE, nil, 30))
    assert.are_not.equal(live, got.Object)
    assert.are.same({ a = {} }, got.Packet)
    assert.is_falsy(net.take({ Event = network.EVENT_CLIENT_CLOSE, Object = live }), "the live peer was closed")
    assert.are.equal(1, server:Send({ still = true }, live))
    helper.sleep(0.3)
    assert.is_falsy(peer:output():find("CLOSED", 1, true), peer:output())
    assert.is_falsy(peer:output():find("ERROR", 1, true), peer:output())
  end)

  it("PeerTimeout = 0 keeps a stalled connection open, and it works again once the relay resumes", function()
    network.Configure({ PingInterval = PING, PeerTimeout = 0 })
    local server, client, c, relay, stall, dir = relayed_pair()
    finally(function() relay:close(); helper.cleanup(dir) end)
    assert_exchange(server, client, c, "before the stall")
    stall(true)
    -- Twice the timeout the previous test saw fire: nothing happens.
    assert.are.same({}, net.collect(function() return true end, 2 * TIMEOUT))
    assert.are.equal(1, server:ConnectionCount())
    stall(false)
    assert_exchange(server, client, c, "after the stall")
  end)

  it("a stall shorter than PeerTimeout is survived", function()
    network.Configure({ PingInterval = PING, PeerTimeout = TIMEOUT })
    local server, client, c, relay, stall, dir = relayed_pair()
    finally(function() relay:close(); helper.cleanup(dir) end)
    stall(true)
    assert.are.same({}, net.collect(function() return true end, TIMEOUT / 2))
    stall(false)
    -- Pings flow again and refresh both sides; after another PeerTimeout, still open.
    assert.are.same({}, net.collect(function() return true end, TIMEOUT + 0.3))
    assert_exchange(server, client, c, "after a short stall")
  end)

  describe("across a veth link between two network namespaces", function()
    local id = string.format("%d%03d", os.time() % 100000, math.random(0, 999))
    local nsA, nsB = "mmnet-a-" .. id, "mmnet-b-" .. id
    local vethA, vethB = "mma" .. id, "mmb" .. id     -- at most 15 characters
    local subnet = string.format("10.%d.%d", math.random(64, 250), math.random(1, 250))
    local addrA = subnet .. ".1"

    --- Runs a command as root; returns ok and its output.
    local function sh(command)
      local ok, _, output = helper.run(command, 20)
      return ok, output
    end

    --- The command that runs the liveness peer inside namespace `ns`.
    local function peer_in(ns, ...)
      return "exec ip netns exec " .. ns .. " " .. net.peer_command("liveness_peer", ...):gsub("^exec ", "")
    end

    it("a link taken down mid-session: both sides report the timeout within PeerTimeout + 1 s", function()
      -- busted keeps only the last `finally` of a test: one cleanup, in reverse order.
      local server, client
      finally(function()
        if client then client:close() end
        if server then server:close() end
        sh("ip netns del " .. nsA .. " 2>/dev/null; ip netns del " .. nsB .. " 2>/dev/null; true")
      end)
      local made, why = sh("ip netns add " .. nsA)
      if not made then
        print("\nliveness_spec: netns test skipped: cannot create a network namespace: " .. why)
        pending("cannot create a network namespace (needs root and iproute2): " .. why)
      end
      local ok, output = sh(table.concat({
        "ip netns add " .. nsB,
        "ip link add " .. vethA .. " type veth peer name " .. vethB,
        "ip link set " .. vethA .. " netns " .. nsA,
        "ip link set " .. vethB .. " netns " .. nsB,
        "ip -n " .. nsA .. " addr add " .. addrA .. "/24 dev " .. vethA,
        "ip -n " .. nsB .. " addr add " .. subnet .. ".2/24 dev " .. vethB,
        "ip -n " .. nsA .. " link set lo up", "ip -n " .. nsB .. " link set lo up",
        "ip -n " .. nsA .. " link set " .. vethA .. " up", "ip -n " .. nsB .. " link set " .. vethB .. " up",
      }, " && "))
      assert(ok, "setting up the veth pair failed: " .. output)

      local port = 47000
      server = helper.spawn(peer_in(nsA, "server", addrA, port, PING, TIMEOUT), { timeout = 30 })
      assert(server:wait_for("^LISTENING", 10), "server: " .. server:output())
      client = helper.spawn(peer_in(nsB, "client", addrA, port, PING, TIMEOUT), { timeout = 30 })
      assert(client:wait_for("^EXCHANGED", 10), "client: " .. client:output())
      assert(server:wait_for("^EXCHANGED", 10), "server: " .. server:output())

      -- No FIN, no RST: the link just goes away.
      local t0 = net.now()
      local down_ok, down_output = sh("ip -n " .. nsA .. " link set " .. vethA .. " down")
      assert(down_ok, down_output)
      for name, proc in pairs { server = server, client = client } do
        local line = proc:wait_for("^CLOSED ", TIMEOUT + 5)
        assert(line, name .. " saw no close: " .. proc:output())
        local at, errors = line:match("^CLOSED (%S+) (.*)$")
        assert.are.equal("peer timed out after 1 s", errors)
        local after = tonumber(at) - t0
        assert.is_true(after >= TIMEOUT - PING - 0.15, ("%s closed %.3f s after the link went down"):format(name, after))
        assert.is_true(after <= TIMEOUT + 1, ("%s closed %.3f s after the link went down"):format(name, after))
        assert.is_nil(proc:output():find("ERROR", 1, true), proc:output())
        assert.are.equal(0, proc:wait(5))
      end
    end)
  end)
end)
