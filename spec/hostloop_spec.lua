-- A host's own loop: network.GetEventDescriptor() is readable exactly while events wait for
-- this Lua state, and PollEvents drains it. Checked with LuaSocket's socket.select (a table
-- whose getfd returns the descriptor), including a select that sleeps with a long timeout and
-- is woken by a message from another process, and with a luv poll handle.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"
local net = require "nethelper"
local network = net.network
local socket = net.socket

--- Something socket.select accepts: a table with getfd returning the event descriptor.
local function selectable()
  local fd = assert(network.GetEventDescriptor())
  return { getfd = function() return fd end }
end

--- Whether the descriptor is readable within `timeout` seconds (0: now).
local function readable(handle, timeout)
  local ready = socket.select({ handle }, nil, timeout)
  return ready[handle] ~= nil
end

describe("network.GetEventDescriptor", function()
  before_each(net.reset)
  after_each(net.reset)

  it("is an integer descriptor, the same on every call", function()
    local fd = network.GetEventDescriptor()
    assert.are.equal("integer", math.type(fd))
    assert.is_true(fd >= 0)
    assert.are.equal(fd, network.GetEventDescriptor())
  end)

  it("is readable while events wait, and PollEvents makes it unreadable again", function()
    local handle = selectable()
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })
    local server, client, c = net.pair()
    network.PollEvents()
    assert.is_false(readable(handle, 0))
    assert.is_true(client:Send({ "wake up" }))
    -- Waiting in select, not in PollEvents: the descriptor alone says an event came.
    assert.is_true(readable(handle, 5))
    assert.is_true(readable(handle, 0), "readable only once")
    assert.are.equal(1, network.GetStats().EventsQueued)
    local events = network.PollEvents()
    assert.are.equal(1, #events)
    assert.are.same({ "wake up" }, events[1].Packet)
    assert.is_false(readable(handle, 0))
    -- More events at once: still one readable descriptor, drained by one PollEvents.
    for i = 1, 3 do assert.are.equal(1, server:Send({ i }, c)) end
    assert.is_true(readable(handle, 5))
    local ok = helper.wait_until(function() return network.GetStats().EventsQueued == 3 end, 5, 0.01)
    assert.is_truthy(ok)
    assert.are.equal(3, #network.PollEvents())
    assert.is_false(readable(handle, 0))
  end)

  it("is readable when one read brings more messages than EventQueueSize (QueueFull = \"drop\")", function()
    -- The read's messages go to the ring in one batch, which drops its own oldest: the ring
    -- went from empty to full, and the descriptor must say so (it stayed unreadable).
    local handle = selectable()
    network.Configure({ PingInterval = 0, PeerTimeout = 0, EventQueueSize = 2, QueueFull = "drop" })
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.hello_peer(server:GetPort())
    finally(function() raw:close() end)
    local connect = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5))
    network.PollEvents()
    assert.is_false(readable(handle, 0))
    local frames = {}
    for i = 1, 10 do frames[i] = net.frame("\x91" .. string.char(i)) end  -- bodies: MessagePack { i }
    assert(raw:send(table.concat(frames)))
    local ok = helper.wait_until(function() return network.GetStats().EventsQueued == 2 end, 5, 0.01)
    assert.is_truthy(ok)
    assert.is_true(readable(handle, 1), "2 events queued, and the descriptor is not readable")
    local packets = {}
    for _, e in ipairs(network.PollEvents()) do
      if e.Event == network.EVENT_RECEIVE then
        assert.are.equal(connect.Object, e.Object)
        packets[#packets + 1] = e.Packet
      end
    end
    assert.are.same({ { 9 }, { 10 } }, packets)
    assert.is_false(readable(handle, 0))
  end)

  it("is readable at once when events were waiting before it was asked for", function()
    -- The descriptor exists already in this process's state (earlier tests); a fresh state
    -- shows the case: its first GetEventDescriptor comes after an event is queued.
    local chunk = [[
      local network = require "mmnet"
      local socket = require "socket"
      network.Configure({ PingInterval = 0, PeerTimeout = 0 })
      local server = assert(network.Server("127.0.0.1", 0))
      local client = assert(network.Client("127.0.0.1", server:GetPort()))
      local deadline = socket.gettime() + 5
      while network.GetStats().EventsQueued < 2 and socket.gettime() < deadline do socket.sleep(0.01) end
      assert(network.GetStats().EventsQueued == 2, "no CONNECTED and CONNECT")
      local fd = network.GetEventDescriptor()
      local h = { getfd = function() return fd end }
      assert(socket.select({ h }, nil, 0)[h], "not readable with events waiting")
      assert(#network.PollEvents() == 2)
      assert(not socket.select({ h }, nil, 0)[h], "readable after PollEvents")
      print("HOSTLOOP-OK")
    ]]
    -- As for the peer processes: the test tree first, then the system's modules (LuaSocket).
    local ok, code, output = helper.run(net.peer_command("x"):gsub("'[^']*/spec/peers/x%.lua' *$",
      "-e " .. helper.quote(chunk)), 20)
    assert.is_true(ok, "exit " .. code .. ": " .. output)
    assert.is_truthy(output:find("HOSTLOOP-OK", 1, true), output)
  end)

  it("wakes a select sleeping with a long timeout soon after a message comes from another process", function()
    local handle = selectable()
    local server = assert(network.Server("127.0.0.1", 0))
    -- The sender connects, waits 1 s, sends one message, disconnects.
    local sender = net.spawn_peer("sender", { server:GetPort(), 1, "delayed", 0, 1 }, { timeout = 30 })
    finally(function() sender:close() end)
    local function sleep_until_event(kind)
      local deadline = net.now() + 30
      while true do
        local before = net.now()
        assert.is_true(before < deadline, "no event " .. kind .. " within 30 s")
        assert.is_true(readable(handle, 20), "select slept its whole 20 s")
        local woke = net.now()
        for _, e in ipairs(network.PollEvents()) do
          if e.Event == kind then return e, woke, woke - before end
        end
      end
    end
    local connect = sleep_until_event(network.EVENT_CONNECT)
    local received, woke, slept = sleep_until_event(network.EVENT_RECEIVE)
    assert.are.equal(1, received.Packet.seq)
    assert.is_true(rawequal(connect.Object, received.Object))
    -- It slept (the message came about 1 s later) and woke right when the event was queued.
    assert.is_true(slept > 0.3, ("select returned after %.3f s"):format(slept))
    assert.is_true(woke - received.Timestamp < 0.1, ("woke %.3f s after the event"):format(woke - received.Timestamp))
    assert.is_truthy(sender:wait_for("^SENT 1", 10), sender:output())
  end)

  it("works with a luv poll handle: one callback per batch of events", function()
    local uv = require "luv"
    network.Configure({ PingInterval = 0, PeerTimeout = 0 })
    local server, client, c = net.pair()
    network.PollEvents()
    local fd = assert(network.GetEventDescriptor())
    local poll = uv.new_poll(fd)
    local timer = uv.new_timer()
    finally(function()
      if not poll:is_closing() then poll:close() end
      if not timer:is_closing() then timer:close() end
      uv.run("nowait")
    end)
    -- Callbacks record what happened (no assertions inside luv's callbacks).
    local batches, got, problems = 0, {}, {}
    poll:start("r", function(err)
      if err then problems[#problems + 1] = err end
      batches = batches + 1
      for _, e in ipairs(network.PollEvents()) do got[#got + 1] = e.Packet and e.Packet[1] or net.describe(e) end
      if batches == 1 then
        -- Answer from inside the loop; the reply wakes the handle once more.
        if server:Send({ "pong" }, c) ~= 1 then problems[#problems + 1] = "Send failed" end
      end
    end)
    -- Stop the loop 0.5 s after both messages came, or after 5 s whatever happened.
    local stop_at = uv.now() + 5000
    local settled = false
    timer:start(10, 10, function()
      if #got >= 2 and not settled then settled, stop_at = true, uv.now() + 500 end
      if uv.now() >= stop_at then uv.stop() end
    end)
    assert.is_true(client:Send({ "ping" }))
    uv.run("default")
    assert.are.same({}, problems)
    assert.are.same({ "ping", "pong" }, got)
    -- Level-triggered: a descriptor left readable would have fired over and over.
    assert.are.equal(2, batches)
  end)
end)
