-- One peer's flood and the others' messages: a connection may hold only its share of the event
-- queue while others send too, so a flood neither pushes their messages out ("drop" mode) nor
-- makes them wait behind its backlog ("wait" mode). Found by a review of fairness
-- (2026-12-07): in "drop" mode ten quiet clients at 60 Hz kept 1,048 of their 4,800 messages
-- beside one flooding client; in "wait" mode theirs waited seconds.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local network = net.network

--- A server with a flooding peer process connected (its connection taken from the events),
-- and a quiet client of this state connected to it (its server-side connection too).
local function flooded_server()
  local server = assert(network.Server("127.0.0.1", 0))
  local flooder = net.spawn_peer("sender", { server:GetPort(), 0, "forever" })
  finally(function() flooder:close() end)
  local connect = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10))
  local quiet = assert(network.Client("127.0.0.1", server:GetPort()))
  local quiet_at_server, connected
  local deadline = net.now() + 10
  while not (quiet_at_server and connected) and net.now() < deadline do
    for _, e in ipairs(network.PollEvents(0.05)) do
      if e.Event == network.EVENT_CONNECT and not rawequal(e.Object, connect.Object) then quiet_at_server = e.Object end
      if e.Event == network.EVENT_CONNECTED and rawequal(e.Object, quiet) then connected = e.Result end
    end
  end
  assert.is_truthy(quiet_at_server and connected, "the quiet client never connected")
  return server, connect.Object, quiet, quiet_at_server
end

describe("a flooding peer", function()
  before_each(net.reset)
  after_each(net.reset)

  it("costs no other peer its messages in \"drop\" mode", function()
    local _, flooder, quiet, quiet_at_server = flooded_server()
    local received, flooded = {}, 0
    --- Takes the events queued now.
    local function poll()
      for _, e in ipairs(network.PollEvents()) do
        if e.Event == network.EVENT_RECEIVE and rawequal(e.Object, quiet_at_server) then
          received[#received + 1] = e.Packet.seq
        elseif e.Event == network.EVENT_RECEIVE and rawequal(e.Object, flooder) then
          flooded = flooded + 1
        end
      end
    end
    -- A busy script: it polls every 0.1 s, and the flood fills the queue in between.
    for i = 1, 50 do
      assert.is_true(quiet:Send({ seq = i }))
      net.socket.sleep(0.02)
      if i % 5 == 0 then poll() end
    end
    local deadline = net.now() + 5
    while #received < 50 and net.now() < deadline do
      net.socket.sleep(0.05)
      poll()
    end
    assert.is_true(flooded > 2000, "no flood: " .. flooded)
    assert.are.equal(50, #received, "the quiet client's messages were dropped for the flood")
    for i = 1, 50 do assert.are.equal(i, received[i]) end
  end)

  it("makes no other peer's message wait behind its backlog in \"wait\" mode", function()
    network.Configure({ QueueFull = "wait" })
    local _, flooder, quiet, quiet_at_server = flooded_server()
    -- The flood's backlog, in its socket buffers and paused in mmnet, is many queues long.
    net.socket.sleep(0.3)
    for i = 1, 10 do
      assert.is_true(quiet:Send({ seq = i }))
      net.socket.sleep(0.1)  -- busy: nothing polled, the flood holds the queue
      local got, polls = false, 0
      while not got and polls < 3 do
        polls = polls + 1
        for _, e in ipairs(network.PollEvents(0.5)) do
          if e.Event == network.EVENT_RECEIVE and rawequal(e.Object, quiet_at_server) then
            assert.are.equal(i, e.Packet.seq)
            got = true
          else
            assert.is_true(rawequal(e.Object, flooder), net.describe(e))
          end
        end
      end
      assert.is_true(got, "message " .. i .. " still behind the flood after 3 polls")
    end
  end)
end)
