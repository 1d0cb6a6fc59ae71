-- The user's document (spec/network-api.txt) read against what a script sees, at the moments
-- where the two could part: the calls a script makes as soon as an event arrives, and the
-- messages of its mistakes. Found by a review of the contract (2026-12-06).
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local network = net.network

--- Polls until an event of code `kind` about `object` comes (at most 5 s) and returns it at
-- once, before anything else runs: what a script's event loop does.
local function first_event(kind, object)
  local deadline = net.now() + 5
  repeat
    for _, e in ipairs(network.PollEvents(0.5)) do
      if e.Event == kind and rawequal(e.Object, object) then return e end
    end
  until net.now() > deadline
  error("no " .. net.names[kind] .. " within 5 s")
end

describe("contract", function()
  before_each(net.reset)
  after_each(net.reset)

  describe("an object whose close event the script has got is closed", function()
    -- The document: GetPort is nil when not connected, Send returns true on success. Before the
    -- fix, the close event reached the script before the I/O thread closed the connection: in
    -- 91 rounds of 100 the client's Send right after EVENT_SERVER_CLOSE returned true (the
    -- message went nowhere) and GetSocket and GetPort still gave the socket and the port.
    it("a client, right after EVENT_SERVER_CLOSE: Send false, GetSocket and GetPort nil", function()
      local server = assert(network.Server("127.0.0.1", 0))
      for round = 1, 30 do
        local client = assert(network.Client("127.0.0.1", server:GetPort()))
        local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
        net.pending = {}
        server:Disconnect(c)
        local e = first_event(network.EVENT_SERVER_CLOSE, client)
        local sent, why = client:Send({ "lost?" })
        assert.is_false(sent, "round " .. round)
        assert.are.equal("not connected: " .. e.Errors, why)
        assert.is_nil(client:GetSocket(), "round " .. round)
        assert.is_nil(client:GetPort(), "round " .. round)
      end
    end)

    it("a ClientConnection, right after EVENT_CLIENT_CLOSE: GetSocket nil", function()
      local server = assert(network.Server("127.0.0.1", 0))
      for round = 1, 30 do
        local client = assert(network.Client("127.0.0.1", server:GetPort()))
        local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
        assert(net.wait_kind(network.EVENT_CONNECTED, client, 5))
        net.pending = {}
        client:Disconnect()
        first_event(network.EVENT_CLIENT_CLOSE, c)
        assert.is_nil(c:GetSocket(), "round " .. round)
        assert.are.equal(0, server:Send({ "lost?" }, c))
      end
    end)

    it("a client whose connection failed, right after EVENT_CONNECTED false: Send false, GetSocket nil", function()
      local probe = assert(network.Server("127.0.0.1", 0))
      local port = probe:GetPort()
      probe = nil
      collectgarbage(); collectgarbage()
      for round = 1, 30 do
        local client = assert(network.Client("127.0.0.1", port))
        local e = first_event(network.EVENT_CONNECTED, client)
        assert.is_false(e.Result)
        local sent, why = client:Send({ "lost?" })
        assert.is_false(sent, "round " .. round)
        assert.are.equal("not connected: " .. e.Errors, why)
        assert.is_nil(client:GetSocket(), "round " .. round)
      end
    end)

    -- The document: WaitForConnect leaves EVENT_CONNECTED in the queue (DESIGN.md, "Known
    -- gaps"), so a PollEvents() right after it, without waiting, has the event.
    -- (A first fix of the tests above, closing the connection before its event was queued,
    -- let 37 WaitForConnects of 2000 return before the event was: 500 rounds catch that.)
    it("WaitForConnect false: the EVENT_CONNECTED false is queued when it returns", function()
      local probe = assert(network.Server("127.0.0.1", 0))
      local port = probe:GetPort()
      probe = nil
      collectgarbage(); collectgarbage()
      for round = 1, 500 do
        local client = assert(network.Client("127.0.0.1", port))
        local ok, _, why = client:WaitForConnect(2)
        assert.is_false(ok)
        local found
        for _, e in ipairs(network.PollEvents()) do
          if rawequal(e.Object, client) then found = e end
        end
        assert.is_truthy(found, "round " .. round .. ": no event right after WaitForConnect")
        assert.are.equal(network.EVENT_CONNECTED, found.Event)
        assert.is_false(found.Result)
        assert.are.equal(why, found.Errors)
      end
    end)
  end)
end)
