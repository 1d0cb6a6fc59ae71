-- EventQueueBytes: while a script is busy, the bytes of the messages its event queue holds
-- are bounded (mmnet stops reading, then resumes at the next poll), in both QueueFull modes,
-- and nothing is lost; a message larger than the bound still arrives. (Configure's checks of
-- it are in network_spec.)
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local resources = require "resources"
local network = net.network

--- Receives `expected` messages from a sender process, in order, until its close; returns the
-- number of EVENT_RECEIVE the first poll had.
local function receive_all(expected, seconds)
  local first, got, closed = nil, 0, false
  local deadline = net.now() + seconds
  while not closed and net.now() < deadline do
    local events = network.PollEvents(0.05)
    local received = 0
    for _, e in ipairs(events) do
      if e.Event == network.EVENT_RECEIVE then
        received = received + 1
        got = got + 1
        assert.are.equal(got, e.Packet.seq)
      elseif e.Event == network.EVENT_CLIENT_CLOSE then
        closed = true
      elseif e.Event ~= network.EVENT_CONNECT then
        error("unexpected " .. net.describe(e))
      end
    end
    first = first or (received > 0 and received or nil)
  end
  assert.is_true(closed, "no EVENT_CLIENT_CLOSE after " .. got .. " messages")
  assert.are.equal(expected, got)
  return first
end

describe("EventQueueBytes", function()
  before_each(net.reset)
  after_each(net.reset)

  -- Both QueueFull modes, and an encrypted connection (whose reads go through TLS first).
  for _, case in ipairs { { "drop" }, { "wait" }, { "drop", "0C03EA65238DD2C25EB87CE563868098" } } do
    local mode, key = case[1], case[2]
    it("bounds what a busy script holds (QueueFull = \"" .. mode .. "\"" .. (key and ", encrypted" or "")
        .. "), and loses nothing", function()
      local limit = 1024 * 1024
      network.Configure({ QueueFull = mode, EventQueueBytes = limit })
      local dropped_before = network.GetStats().EventsDropped  -- the state's total: other files' too
      local server = assert(network.Server("127.0.0.1", 0, key))
      local pad = 256 * 1024
      local sender = net.spawn_peer("sender", { server:GetPort(), 40, "disconnect", pad, 0, key or "" },
        { timeout = 60 })
      finally(function() sender:close() end)
      -- The busy script: the sender queues all 10 MiB, which would all arrive meanwhile.
      assert.is_truthy(sender:wait_for("^SENT 40", 20), sender:output())
      net.socket.sleep(0.3)
      local body = #network.Encode({ seq = 1, pad = string.rep("p", pad) })
      -- Queued while the bodies held stay under the limit: the last one goes past it.
      local held = math.ceil(limit / body)
      assert.are.equal(held * body, network.GetStats().EventBytesQueued)
      assert.are.equal(held, receive_all(40, 20))
      assert.are.equal(0, network.GetStats().EventBytesQueued)
      assert.are.equal(dropped_before, network.GetStats().EventsDropped)
      assert.are.equal(0, sender:wait(10), sender:output())
    end)
  end

  it("lets a message larger than the bound through, one at a time", function()
    network.Configure({ EventQueueBytes = 1024 })
    local server = assert(network.Server("127.0.0.1", 0))
    local sender = net.spawn_peer("sender", { server:GetPort(), 5, "disconnect", 4096 }, { timeout = 60 })
    finally(function() sender:close() end)
    assert.is_truthy(sender:wait_for("^SENT 5", 20), sender:output())
    net.socket.sleep(0.3)
    local first = receive_all(5, 20)
    assert.are.equal(1, first)
    assert.are.equal(0, sender:wait(10), sender:output())
  end)

  it("keeps a busy script's memory bounded with the defaults (64 MiB)", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local before = resources.settled_rss_kb()
    local sender = net.spawn_peer("sender", { server:GetPort(), 200, "disconnect", 1024 * 1024 }, { timeout = 60 })
    finally(function() sender:close() end)
    net.socket.sleep(2)  -- 200 MiB would arrive meanwhile, without the bound
    resources.assert_rss_growth(resources.rss_kb() - before, 100 * 1024, "a busy script's queue")
    receive_all(200, 30)
    assert.are.equal(0, sender:wait(10), sender:output())
  end)
end)
