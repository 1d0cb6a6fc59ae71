-- The event queue and the waits: 2000 events, overflow keeping the newest and reporting the
-- loss (dropping messages before any connect event), QueueFull = "wait" losing nothing between a fast sender process and a slow receiver,
-- PollEvents(timeout) waiting without a busy loop, the send queue bound, nothing lost by
-- closing, and a peer killed in the middle of a message.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"
local net = require "nethelper"
local resources = require "resources"
local network = net.network

--- Polls until `done(event)` returns true for an event, handing every event to `done`;
-- fails after `seconds`. Returns the number of polls.
local function poll_until(done, seconds, progress)
  local deadline = net.now() + seconds
  local polls = 0
  while net.now() < deadline do
    polls = polls + 1
    for _, e in ipairs(network.PollEvents(0.05)) do
      if done(e) then return polls end
    end
  end
  error("not done within " .. seconds .. " s" .. (progress and ("; " .. progress()) or ""), 2)
end

--- Polls until `count` EVENT_CONNECTs have come (failing on any other event), within
-- `seconds`; returns their connections, held (a collected connection is closed).
local function take_connects(count, seconds)
  local connections = {}
  local deadline = net.now() + seconds
  while #connections < count and net.now() < deadline do
    for _, e in ipairs(network.PollEvents(0.05)) do
      assert.are.equal(network.EVENT_CONNECT, e.Event, net.describe(e))
      connections[#connections + 1] = e.Object
    end
  end
  return connections
end

describe("the event queue", function()
  before_each(net.reset)
  after_each(net.reset)

  it("holds 2000 events: on overflow it keeps the newest 2000 and reports the loss first", function()
    local server, client, c = net.pair()
    assert.are.equal(2000, network.Configure().EventQueueSize)
    local total = 2600
    local dropped_before = network.GetStats().EventsDropped
    for i = 1, total do assert.is_true(client:Send({ seq = i })) end
    -- Awaited without draining the queue: the counters say when the I/O thread has read all
    -- 2600 frames, before the one poll that must see the overflow.
    assert.is_truthy(helper.wait_until(function()
      return network.GetStats().EventsDropped - dropped_before >= total - 2000
    end, 10), "dropped " .. network.GetStats().EventsDropped - dropped_before)
    local events = network.PollEvents()
    assert.is_true(#events >= 2, "no events")
    assert.are.equal(network.EVENT_ERROR, events[1].Event)
    local lost = tonumber(events[1].Errors:match("^event queue overflow: (%d+) events lost$"))
    assert.is_truthy(lost, events[1].Errors)
    assert.are.equal(total - 2000, lost)
    assert.are.equal(2001, #events)
    -- The newest 2000, in order.
    for i = 2, #events do
      assert.are.equal(network.EVENT_RECEIVE, events[i].Event)
      assert.is_true(rawequal(c, events[i].Object))
      assert.are.equal(lost + i - 1, events[i].Packet.seq)
    end
    -- Reported once: the next poll starts afresh, and the connection still works.
    assert.is_true(client:Send({ seq = "after" }))
    local e = assert(net.wait_kind(network.EVENT_RECEIVE, c, 5))
    assert.are.equal("after", e.Packet.seq)
    for _, p in ipairs(net.pending) do assert.are_not.equal(network.EVENT_ERROR, p.Event) end
  end)

  -- Its Timestamp was the time of the poll, after every event it reported, as if the losses
  -- came last; it is when the queue began to overflow.
  it("stamps the overflow report with the time of the first loss", function()
    local server, client, c = net.pair()
    local dropped_before = network.GetStats().EventsDropped
    --- Waits until the queue has dropped `count` events in this test (the count is live:
    -- GetStats drains nothing).
    local function await_dropped(count)
      local deadline = net.now() + 10
      local function dropped() return network.GetStats().EventsDropped - dropped_before end
      while dropped() < count and net.now() < deadline do net.socket.sleep(0.01) end
      assert.are.equal(count, dropped())
    end
    local before = net.now()
    for i = 1, 2001 do assert.is_true(client:Send({ seq = i })) end
    await_dropped(1)
    net.socket.sleep(0.2)
    local second = net.now()
    for i = 2002, 2100 do assert.is_true(client:Send({ seq = i })) end
    await_dropped(100)
    local events = network.PollEvents()
    assert.are.equal("event queue overflow: 100 events lost", events[1].Errors)
    assert.are.equal(2100, events[#events].Packet.seq)
    assert.is_true(events[1].Timestamp >= before - 0.01, "before the first send")
    assert.is_true(events[1].Timestamp < second, "after the second burst: " .. (events[1].Timestamp - second))
    assert.is_true(events[1].Timestamp < events[#events].Timestamp, "not the time of the poll")
  end)

  -- In "drop" mode a full queue drops its oldest message, not the connect, close and error
  -- events queued before it: one peer's flood must not cost the others their EVENT_CONNECT
  -- (and with it their connections, which no script could hold).
  it("drops the oldest messages of a flood, never another peer's EVENT_CONNECT", function()
    network.Configure({ EventQueueSize = 50 })
    local dropped_before = network.GetStats().EventsDropped  -- counted since the state opened mmnet
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = net.hello_peers(server:GetPort(), 6, finally)  -- their EVENT_CONNECTs queued, not polled
    local total = 10000
    local frames = {}
    for i = 1, total do frames[i] = net.frame(network.Encode({ seq = i }), 0) end
    assert(peers[6]:send(table.concat(frames)))
    -- 6 connects and 44 messages fit: the other 9,956 messages are dropped.
    assert.is_truthy(helper.wait_until(function()
      return network.GetStats().EventsDropped - dropped_before >= total - 44
    end, 10), "dropped " .. network.GetStats().EventsDropped - dropped_before)
    local events = network.PollEvents()
    assert.are.equal(network.EVENT_ERROR, events[1].Event)
    assert.are.equal("event queue overflow: " .. (total - 44) .. " events lost", events[1].Errors)
    local connects, seqs = 0, {}
    for i = 2, #events do
      if events[i].Event == network.EVENT_CONNECT then connects = connects + 1
      else
        assert.are.equal(network.EVENT_RECEIVE, events[i].Event, net.describe(events[i]))
        seqs[#seqs + 1] = events[i].Packet.seq
      end
    end
    assert.are.equal(6, connects)
    assert.are.equal(44, #seqs)
    for i, seq in ipairs(seqs) do assert.are.equal(total - 44 + i, seq) end
    assert.are.equal(6, server:ConnectionCount())
  end)

  it("drops a message arriving at a queue full of connects, not a connect before it", function()
    network.Configure({ EventQueueSize = 6 })
    local dropped_before = network.GetStats().EventsDropped
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = net.hello_peers(server:GetPort(), 6, finally)  -- the queue is full of their connects
    local frames = {}
    for i = 1, 100 do frames[i] = net.frame(network.Encode({ seq = i }), 0) end
    assert(peers[6]:send(table.concat(frames)))
    assert.is_truthy(helper.wait_until(function()
      return network.GetStats().EventsDropped - dropped_before >= 100
    end, 10), "dropped " .. network.GetStats().EventsDropped - dropped_before)
    local events = network.PollEvents()
    assert.are.equal(7, #events)
    assert.are.equal("event queue overflow: 100 events lost", events[1].Errors)
    for i = 2, 7 do assert.are.equal(network.EVENT_CONNECT, events[i].Event, net.describe(events[i])) end
    assert.are.equal(6, server:ConnectionCount())
    -- And every connection is open: a message from the first peer comes through.
    assert(peers[1]:send(net.frame(network.Encode({ seq = 0 }), 0)))
    local e
    poll_until(function(event) e = event; return true end, 5)
    assert.are.equal(network.EVENT_RECEIVE, e.Event, net.describe(e))
    assert.are.equal(0, e.Packet.seq)
  end)

  it("drops the errors of a churn of bad hellos, never another peer's EVENT_CONNECT", function()
    network.Configure({ EventQueueSize = 10 })
    -- EventsDropped counts since the state opened mmnet: earlier tests of this file dropped some.
    local dropped_before = network.GetStats().EventsDropped
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = net.hello_peers(server:GetPort(), 3, finally)  -- their EVENT_CONNECTs queued, not polled
    local bad = 100
    for _ = 1, bad do
      local raw = net.raw_connect(server:GetPort())
      assert(raw:send(("x"):rep(#net.HELLO)))
      raw:close()
    end
    -- Each bad peer is one error of the server's: 3 connects and the 7 newest errors fit.
    assert.is_truthy(helper.wait_until(function()
      return network.GetStats().EventsDropped - dropped_before >= bad - 7
    end, 10), "dropped " .. network.GetStats().EventsDropped - dropped_before)
    local events = network.PollEvents()
    assert.are.equal("event queue overflow: " .. (bad - 7) .. " events lost", events[1].Errors)
    local connects, errors = 0, 0
    for i = 2, #events do
      if events[i].Event == network.EVENT_CONNECT then connects = connects + 1
      else
        assert.are.equal(network.EVENT_ERROR, events[i].Event, net.describe(events[i]))
        assert.is_true(rawequal(server, events[i].Object), net.describe(events[i]))
        errors = errors + 1
      end
    end
    assert.are.equal(3, connects)
    assert.are.equal(7, errors)
    assert.are.equal(3, server:ConnectionCount())
    for _, raw in ipairs(peers) do raw:settimeout(0) assert.are.equal("timeout", select(2, raw:receive(1))) end
  end)

  -- In "wait" mode a full queue also stops the accepting of new connections, whose connect or
  -- error events it would otherwise have to take past its capacity, until the script polls.
  it("in QueueFull = \"wait\" mode accepts no connection while the queue is full, then every one", function()
    network.Configure({ QueueFull = "wait", EventQueueSize = 5 })
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = {}
    finally(function() for _, raw in ipairs(peers) do raw:close() end end)
    for i = 1, 200 do
      peers[i] = net.raw_connect(server:GetPort())
      assert(peers[i]:send(net.HELLO))
    end
    net.socket.sleep(0.5)  -- nothing to await without polling: let the I/O thread accept
    local queued = network.GetStats().EventsQueued
    -- At most one accept round (64) past the 5 the queue holds.
    assert.is_true(queued <= 5 + 64, "queued " .. queued)
    local connections = take_connects(200, 20)
    assert.are.equal(200, #connections)
    assert.are.equal(200, server:ConnectionCount())
  end)

  -- The connections still in their hello count as the connects they will queue: peers that
  -- stay silent add no event, yet a server keeps at most one accept round of them in hand.
  -- An accepted peer sees the server's hello at once; one still in the backlog sees nothing.
  it("in QueueFull = \"wait\" mode counts the connections still in their hello toward a full queue", function()
    network.Configure({ QueueFull = "wait", EventQueueSize = 5, HelloTimeout = 30 })
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = {}
    finally(function() for _, raw in ipairs(peers) do raw:close() end end)
    for i = 1, 200 do peers[i] = net.raw_connect(server:GetPort()) end
    net.socket.sleep(0.5)  -- nothing to await without polling: let the I/O thread accept
    local function greeted()
      local count = 0
      for _, raw in ipairs(peers) do
        raw:settimeout(0)
        local got, _, partial = raw:receive(#net.HELLO)
        if (got or partial or "") ~= "" then count = count + 1 end
      end
      return count
    end
    local accepted = greeted()
    assert.are.equal(0, network.GetStats().EventsQueued)
    -- At most one accept round (64) past the 5 the queue holds; every one without the count.
    assert.is_true(accepted >= 1 and accepted <= 5 + 64, "accepted " .. accepted)
    -- The rest are accepted as the hellos complete and the script takes their connects.
    for _, raw in ipairs(peers) do assert(raw:send(net.HELLO)) end
    local connections = take_connects(200, 20)
    assert.are.equal(200, #connections)
  end)

  -- When the queue holds no message, its oldest event goes, EVENT_CONNECT included: then the
  -- connection is closed (no script can hold it), and counted lost.
  it("closes a connection whose EVENT_CONNECT overflowed a queue of connects", function()
    network.Configure({ EventQueueSize = 2 })
    local server = assert(network.Server("127.0.0.1", 0))
    local peers = net.hello_peers(server:GetPort(), 3, finally)
    -- The first peer's EVENT_CONNECT made room for the third's: its connection is closed.
    peers[1]:settimeout(5)
    local got, why = peers[1]:receive(1)
    assert.is_nil(got)
    assert.are.equal("closed", why)
    local events = network.PollEvents()
    assert.are.equal(3, #events)
    assert.are.equal("event queue overflow: 1 events lost", events[1].Errors)
    assert.are.equal(network.EVENT_CONNECT, events[2].Event)
    assert.are.equal(network.EVENT_CONNECT, events[3].Event)
    assert.are.equal(2, server:ConnectionCount())
  end)

  it("resets a connection whose EVENT_CONNECT overflowed: its peer, sending, hears it was not heard", function()
    -- Before, it was closed gracefully: what its peer sent meanwhile was read and dropped
    -- through the linger, counted nowhere, and the peer got "closed by peer" and no error.
    network.Configure({ EventQueueSize = 2 })
    local server = assert(network.Server("127.0.0.1", 0))
    local peer = helper.spawn(helper.tree_env() .. " " .. helper.lua .. " -e " .. helper.quote([[
      local network = require "mmnet"
      io.stdout:setvbuf("line")
      local c = assert(network.Client("127.0.0.1", ]] .. server:GetPort() .. [[))
      assert(c:WaitForConnect(5))
      print("CONNECTED")
      for _ = 1, 1500 do  -- 15 s at most
        c:Send({ "x" })
        for _, e in ipairs(network.PollEvents(0.01)) do
          if e.Event == network.EVENT_ERROR then print("ERROR " .. e.Errors) end
          if e.Event == network.EVENT_SERVER_CLOSE then print("CLOSED " .. e.Errors); os.exit(0) end
        end
      end
      os.exit(1)]]), { timeout = 30 })
    finally(function() peer:close() end)
    assert.is_truthy(peer:wait_for("^CONNECTED", 10), peer:output())
    -- Two more connects: the second pushes out the oldest state event, the process's connect
    -- (its messages are dropped on arrival, the queue holding only connects).
    net.hello_peers(server:GetPort(), 2, finally)
    assert.is_truthy(peer:wait_for("^CLOSED", 10), peer:output())
    assert.is_truthy(peer:output():find("ERROR connection reset by peer\n", 1, true), peer:output())
    local events = network.PollEvents()
    assert.is_truthy(events[1].Errors:find("^event queue overflow: %d+ events lost$"), net.describe(events[1]))
    assert.are.equal(3, #events)
    assert.are.equal(network.EVENT_CONNECT, events[2].Event, net.describe(events[2]))
    assert.are.equal(network.EVENT_CONNECT, events[3].Event, net.describe(events[3]))
    assert.are.equal(2, server:ConnectionCount())
  end)

  it("a finalizer calling PollEvents while PollEvents builds its tables: nothing lost, doubled or reordered", function()
    local server, client, c = net.pair()
    local total = 2000
    for i = 1, total do assert.is_true(client:Send({ seq = i })) end
    local deadline = net.now() + 10
    while c:GetStats().MessagesReceived < total and net.now() < deadline do net.socket.sleep(0.01) end
    -- Every seq delivered, by the outer calls or by the finalizers' nested ones, in order.
    local got, polling, during = {}, false, 0
    local function take(events)
      for _, e in ipairs(events) do
        if e.Event == network.EVENT_RECEIVE then got[#got + 1] = e.Packet.seq end
      end
    end
    local finalizable = { __gc = function()
      if polling then during = during + 1 end
      take(network.PollEvents())
    end }
    -- Garbage with finalizers, made with the collector stopped, then restarted in incremental
    -- mode with no allowance: the steps that PollEvents' own allocations trigger run them while
    -- it builds its tables.
    local mode = collectgarbage("incremental")
    finally(function() collectgarbage(mode) end)
    collectgarbage("stop")
    for _ = 1, 20000 do setmetatable({}, finalizable) end
    collectgarbage("restart")
    while #got < total and net.now() < deadline do
      polling = true
      local events = network.PollEvents(0.05)
      polling = false
      take(events)
    end
    assert.is_true(during > 0, "no finalizer ran during PollEvents")
    assert.are.equal(total, #got)
    for i = 1, total do assert.are.equal(i, got[i]) end
  end)

  it("a large EventQueueSize costs memory only as events come", function()
    local before = resources.rss_kb()
    network.Configure({ EventQueueSize = 10000000 })
    -- Before: 700 MB at once, for 10 million empty slots.
    resources.assert_rss_growth(resources.rss_kb() - before, 16 * 1024, "for an empty queue of 10 million")
    local server, client, c = net.pair()
    for i = 1, 5000 do assert.is_true(client:Send({ seq = i })) end
    local got = 0
    local deadline = net.now() + 10
    while got < 5000 and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_RECEIVE then
          got = got + 1
          assert.are.equal(got, e.Packet.seq)
        end
      end
    end
    assert.are.equal(5000, got)
  end)

  it("a smaller EventQueueSize in QueueFull = \"wait\" mode loses none of the events queued", function()
    network.Configure({ QueueFull = "wait" })
    local server = assert(network.Server("127.0.0.1", 0))
    local client = assert(network.Client("127.0.0.1", server:GetPort()))
    assert(client:WaitForConnect(5))  -- EVENT_CONNECT and EVENT_CONNECTED stay queued
    for i = 1, 100 do assert.is_true(client:Send({ seq = i })) end
    assert.is_truthy(helper.wait_until(function() return network.GetStats().EventsQueued == 102 end, 10))
    -- Before: the 52 oldest went, EVENT_CONNECT first, and with it the connection.
    local dropped = network.GetStats().EventsDropped
    network.Configure({ EventQueueSize = 50 })
    local events = network.PollEvents()
    assert.are.equal(102, #events)
    assert.are.equal(network.EVENT_CONNECT, events[1].Event)
    local c = events[1].Object
    for i = 1, 100 do assert.are.equal(i, events[2 + i].Packet.seq) end
    assert.are.equal(dropped, network.GetStats().EventsDropped)
    net.assert_still_working(server, client, c)
  end)

  -- Found by a review of the day's changes (2026-12-07): reading paused for want of room
  -- went on only at the script's next PollEvents, however much room Configure had just made.
  for _, case in ipairs {
    { name = "EventQueueSize", tight = { EventQueueSize = 10, EventQueueBytes = 1024 * 1024 }, more = 100 },
    { name = "EventQueueBytes", tight = { EventQueueSize = 1000, EventQueueBytes = 1024 }, more = 1024 * 1024 },
  } do
    it("a larger " .. case.name .. " in QueueFull = \"wait\" mode lets reading go on at once", function()
      case.tight.QueueFull = "wait"
      network.Configure(case.tight)
      local server = assert(network.Server("127.0.0.1", 0))
      local client = assert(network.Client("127.0.0.1", server:GetPort()))
      assert(client:WaitForConnect(5))  -- EVENT_CONNECT and EVENT_CONNECTED stay queued
      for i = 1, 50 do assert.is_true(client:Send({ seq = i, pad = string.rep("p", 100) })) end
      net.socket.sleep(0.3)
      local before = network.GetStats().EventsQueued
      assert.is_true(before < 52, before .. " queued: reading never paused")
      network.Configure({ [case.name] = case.more })
      assert.is_truthy(helper.wait_until(function() return network.GetStats().EventsQueued == 52 end, 2),
        "still " .. network.GetStats().EventsQueued .. " queued, without a poll")
    end)
  end

  it("EventQueueSize sets the capacity", function()
    local server, client, c = net.pair()
    network.Configure({ EventQueueSize = 10 })
    local dropped_before = network.GetStats().EventsDropped
    for i = 1, 25 do assert.is_true(client:Send({ seq = i })) end
    assert.is_truthy(helper.wait_until(function()  -- as above
      return network.GetStats().EventsDropped - dropped_before >= 15
    end, 10), "dropped " .. network.GetStats().EventsDropped - dropped_before)
    local events = network.PollEvents()
    assert.are.equal(11, #events)
    assert.are.equal("event queue overflow: 15 events lost", events[1].Errors)
    assert.are.equal(16, events[2].Packet.seq)
    assert.are.equal(25, events[11].Packet.seq)
  end)

  -- Found by a review of live settings (2026-12-07): the I/O thread read QueueFull once per
  -- read, so a read of thousands of small messages parsed in "drop" mode was queued with
  -- drops after the script had switched to "wait" (3 rounds of 26 lost 4,838 messages).
  it("switched from \"drop\" to \"wait\" under a flood, drops nothing once Configure returns", function()
    network.Configure({ QueueFull = "drop", EventQueueSize = 50 })
    local server = assert(network.Server("127.0.0.1", 0))
    local sender = net.spawn_peer("sender", { server:GetPort(), 10000000, "forever" }, { timeout = 60 })
    finally(function() sender:close() end)
    assert(net.wait_kind(network.EVENT_CONNECT, nil, 10), sender:output())
    local rounds, dropped_before = 0, network.GetStats().EventsDropped
    for round = 1, 60 do
      network.Configure({ QueueFull = "drop" })
      net.socket.sleep(0.01)  -- the flood overflows the queue: drops
      network.Configure({ QueueFull = "wait" })
      local dropped = network.GetStats().EventsDropped
      net.socket.sleep(0.01)  -- "wait": nothing may go now
      assert.are.equal(dropped, network.GetStats().EventsDropped, "round " .. round)
      rounds = rounds + 1
      network.PollEvents()
    end
    assert.are.equal(60, rounds)
    assert.is_true(network.GetStats().EventsDropped > dropped_before, "the flood never overflowed the queue")
  end)

  -- Back to "drop" with more queued than EventQueueSize ("wait" keeps what a shrink of it
  -- leaves over): the excess goes at once, counted, as a shrink in "drop" mode does.
  it("switched from \"wait\" to \"drop\", trims a queue left past its size at once", function()
    network.Configure({ QueueFull = "wait", EventQueueSize = 10 })
    local dropped = network.GetStats().EventsDropped  -- since the state opened mmnet
    local server = assert(network.Server("127.0.0.1", 0))
    local sender = net.spawn_peer("sender", { server:GetPort(), 4, "hold" }, { timeout = 60 })
    finally(function() sender:close() end)
    assert(sender:wait_for("FLUSHED", 10), sender:output())
    local deadline = net.now() + 5
    while network.GetStats().EventsQueued < 5 and net.now() < deadline do net.socket.sleep(0.01) end
    assert.are.equal(5, network.GetStats().EventsQueued)  -- the connect and four messages
    network.Configure({ EventQueueSize = 2 })
    assert.are.equal(5, network.GetStats().EventsQueued, "\"wait\" keeps them all")
    network.Configure({ QueueFull = "drop" })
    assert.are.equal(2, network.GetStats().EventsQueued)
    assert.are.equal(dropped + 3, network.GetStats().EventsDropped)
    local events = network.PollEvents()
    assert.are.equal(3, #events)
    assert.are.equal("event queue overflow: 3 events lost", events[1].Errors)
    assert.are.equal(network.EVENT_CONNECT, events[2].Event, net.describe(events[2]))
    assert.are.equal(4, events[3].Packet.seq)
  end)

  it("with QueueFull = \"wait\", 100,000 messages from a fast sender process reach a slow receiver, none lost", function()
    network.Configure({ QueueFull = "wait" })
    local server = assert(network.Server("127.0.0.1", 0))
    local total = 100000
    local sender = net.spawn_peer("sender", { server:GetPort(), total, "disconnect" }, { timeout = 60 })
    finally(function() sender:close() end)
    local biggest = 0
    local start = net.now()
    local expected, errors, close = net.receive_until_close(30, function(seq)
      -- The slow receiver: a nap now and then, while the sender keeps going.
      if seq % 20000 == 0 then net.socket.sleep(0.2) end
    end, function(events) biggest = math.max(biggest, #events) end)
    assert.are.same({}, errors)
    assert.is_truthy(close, "no EVENT_CLIENT_CLOSE; got up to seq " .. (expected - 1) .. "\n" .. sender:output())
    assert.are.equal(total + 1, expected)
    -- The ring never held more than its capacity of data events (+ state changes).
    assert.is_true(biggest <= 2000 + 2, tostring(biggest))
    assert.are.equal(0, sender:wait(10), sender:output())
    assert.is_truthy(sender:output():find("SENT " .. total, 1, true))
    assert.is_true(net.now() - start < 20, "took " .. (net.now() - start) .. " s")
  end)

  describe("PollEvents(timeout)", function()
    it("returns within the timeout when nothing happens, without a busy loop", function()
      for _, t in ipairs { 0.1, 0.3 } do
        local wall, cpu = net.now(), os.clock()
        local events = network.PollEvents(t)
        wall, cpu = net.now() - wall, os.clock() - cpu
        assert.are.same({}, events)
        assert.is_true(wall >= t - 0.01 and wall < t + 0.2, ("waited %.3f s for %.1f"):format(wall, t))
        assert.is_true(cpu < 0.05, ("%.3f s of CPU while waiting"):format(cpu))
      end
      local wall = net.now()
      assert.are.same({}, network.PollEvents())
      assert.is_true(net.now() - wall < 0.05)
    end)

    it("returns early when an event arrives", function()
      local server = assert(network.Server("127.0.0.1", 0))
      local sender = net.spawn_peer("sender", { server:GetPort(), 1, "delayed", 0, 0.5 })
      finally(function() sender:close() end)
      -- Kept, or a collection in the 0.5 s could close it.
      local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10)).Object
      -- The sender sends 0.5 s after connecting; wait for it with a long timeout.
      local start = net.now()
      local events = network.PollEvents(8)
      local took = net.now() - start
      assert.is_true(#events >= 1)
      assert.are.equal(network.EVENT_RECEIVE, events[1].Event)
      assert.is_true(rawequal(c, events[1].Object))
      -- (It waited: the event was sent 0.5 s after the connect. No lower bound on `took`:
      -- this process may have been held up for part of those 0.5 s before it began to wait.)
      assert.is_true(took < 2, "took " .. took .. " s")
    end)
  end)

  describe("the send queue", function()
    it("is bounded on a server: Send to a peer that does not read gives 0 and a message", function()
      network.Configure({ SendQueueLimit = 64 * 1024 })
      local server = assert(network.Server("127.0.0.1", 0))
      local raw = net.raw_connect(server:GetPort())
      finally(function() raw:close() end)
      assert(raw:send(net.HELLO))
      local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
      local big = { string.rep("x", 32 * 1024) }
      local count, why
      for i = 1, 2000 do  -- at most 64 MB: far past any socket buffer
        count, why = server:Send(big, c)
        if count == 0 then break end
        assert.are.equal(1, count)
      end
      assert.are.equal(0, count)
      assert.is_truthy(why and why:find("send queue full", 1, true), why)
      assert.are.equal(0, server:Broadcast(big))
    end)

    it("is bounded on a client: Send to a server that does not read gives false and a message", function()
      network.Configure({ SendQueueLimit = 64 * 1024 })
      local listener = assert(net.socket.bind("127.0.0.1", 0))
      local peer
      -- busted keeps only the last `finally` of a test: one for both sockets.
      finally(function() listener:close(); if peer then peer:close() end end)
      listener:settimeout(5)
      local _, port = listener:getsockname()
      local client = assert(network.Client("127.0.0.1", tonumber(port)))
      peer = assert(listener:accept())
      assert(peer:send(net.HELLO))
      assert.is_true((client:WaitForConnect(5)))
      local big = { string.rep("x", 32 * 1024) }
      local sent, why
      for i = 1, 2000 do
        sent, why = client:Send(big)
        if not sent then break end
      end
      assert.is_false(sent)
      assert.is_truthy(why and why:find("send queue full", 1, true), why)
    end)

    it("is bounded towards a receiver process that does not poll (QueueFull = \"wait\")", function()
      network.Configure({ SendQueueLimit = 64 * 1024 })
      local server = assert(network.Server("127.0.0.1", 0))
      local receiver = net.spawn_peer("receiver", { server:GetPort(), "noread" })
      finally(function() receiver:close() end)
      local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10)).Object
      local msg = { string.rep("y", 16 * 1024) }
      local count, why
      for i = 1, 4000 do
        count, why = server:Send(msg, c)
        if count == 0 then break end
      end
      assert.are.equal(0, count)
      assert.is_truthy(why and why:find("send queue full", 1, true), why)
    end)
  end)

  describe("closing loses nothing", function()
    local function receive_all(how)
      local server = assert(network.Server("127.0.0.1", 0))
      local receiver = net.spawn_peer("receiver", { server:GetPort() })
      finally(function() receiver:close() end)
      local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10)).Object
      local total = 20000
      for i = 1, total do
        local count, why = server:Send({ seq = i, pad = string.rep("z", 100) }, c)
        assert.are.equal(1, count, why)
      end
      if how == "disconnect" then
        assert.are.equal(1, server:Disconnect(c))
      else
        c = nil
        net.pending = {}
        collectgarbage(); collectgarbage()
      end
      local line = receiver:wait_for("^DONE", 20)
      assert.is_truthy(line, receiver:output())
      assert.are.equal("DONE received=" .. total .. " ok=true", line)
      assert.are.equal(0, receiver:wait(10))
    end

    it("server: Send 20,000 then Disconnect delivers all to a receiver process, in order", function()
      receive_all("disconnect")
    end)

    it("server: Send 20,000 then drop the ClientConnection + collectgarbage delivers all", function()
      receive_all("drop")
    end)

    for _, mode in ipairs { "disconnect", "drop", "exit" } do
      it("client process: Send 20,000 then " .. mode .. " delivers all to the server, in order", function()
        network.Configure({ QueueFull = "wait" })  -- lossless: the point is closing, not overflow
        local server = assert(network.Server("127.0.0.1", 0))
        local sender = net.spawn_peer("sender", { server:GetPort(), 20000, mode, 100 })
        finally(function() sender:close() end)
        -- The ClientConnection is kept: one the script drops is closed at the next collection
        -- (the user's document), and the busy sender can take long enough for one to come.
        local expected, conn = 1, nil
        poll_until(function(e)
          if e.Event == network.EVENT_CONNECT then
            conn = e.Object
          elseif e.Event == network.EVENT_RECEIVE then
            assert.is_true(rawequal(conn, e.Object))
            assert.are.equal(expected, e.Packet.seq)
            expected = expected + 1
          elseif e.Event == network.EVENT_CLIENT_CLOSE then
            return true
          else
            error("unexpected " .. net.describe(e))
          end
        end, 20, function() return "got up to seq " .. (expected - 1) .. "\n" .. sender:output() end)
        assert.are.equal(20001, expected, sender:output())
        assert.are.equal(0, sender:wait(10), sender:output())
      end)
    end
  end)

  it("a sender process killed (SIGKILL) mid-message: the server gets the close event promptly", function()
    local server = assert(network.Server("127.0.0.1", 0))
    -- Messages of 1 MB: most of the time the kill lands with a frame half read.
    local sender = net.spawn_peer("sender", { server:GetPort(), 0, "forever", 1024 * 1024 })
    finally(function() sender:close() end)
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10)).Object
    assert.is_truthy(net.wait_kind(network.EVENT_RECEIVE, c, 10))
    assert.is_truthy(net.wait_kind(network.EVENT_RECEIVE, c, 10))
    os.execute("kill -KILL -" .. sender.pid)
    local killed = net.now()
    local close = assert(net.wait_kind(network.EVENT_CLIENT_CLOSE, c, 5))
    assert.is_true(close.Timestamp - killed < 1.0, "close came " .. (close.Timestamp - killed) .. " s after the kill")
    assert.are.equal(0, server:ConnectionCount())
    -- The server goes on.
    local _, client, c2 = net.pair(server)
    assert.is_true(client:Send({ "alive" }))
    assert.is_truthy(net.wait_kind(network.EVENT_RECEIVE, c2, 5))
  end)

  it("a server process killed: the client gets EVENT_SERVER_CLOSE promptly", function()
    -- The receiver peer is a client; here the roles turn: our client, a server in a process.
    local dir = helper.tempdir()
    local proc
    -- busted keeps only the last `finally` of a test: one for the process and the dir.
    finally(function() if proc then proc:close() end; helper.cleanup(dir) end)
    local script = dir .. "/server.lua"
    helper.write_file(script, [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))
      print("PORT " .. server:GetPort()); io.stdout:flush()
      local conns = {}
      while true do
        for _, e in ipairs(network.PollEvents(0.1)) do
          if e.Event == network.EVENT_CONNECT then conns[#conns + 1] = e.Object end
        end
      end
    ]])
    local command = net.peer_command("sender", "x"):gsub("'[^']*/spec/peers/sender%.lua' 'x'", helper.quote(script))
    proc = helper.spawn(command)
    local line = assert(proc:wait_for("^PORT %d+", 10), proc:output())
    local client = assert(network.Client("127.0.0.1", tonumber(line:match("%d+"))))
    assert.is_true((client:WaitForConnect(5)))
    os.execute("kill -KILL -" .. proc.pid)
    local killed = net.now()
    local close = assert(net.wait_kind(network.EVENT_SERVER_CLOSE, client, 5))
    assert.is_true(close.Timestamp - killed < 1.0)
  end)
end)
