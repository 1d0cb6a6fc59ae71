-- What a frame's declared length may cost the receiver: no memory that the peer has not sent
-- the bytes for (beyond a read chunk, or twice its last whole message), and, when there is
-- no memory for a message, that connection fails with EVENT_ERROR while the others go on.
-- The server runs in a process of its own with an address-space limit (spec/peers/
-- limited_server.lua), where setting aside memory it does not have makes malloc fail.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local helper = require "helper"
local network = net.network

--- The length every hostile frame here declares: just under the server's 1 GiB MaxMessageSize.
local DECLARED = (1 << 30) - 16

--- Starts the limited server with `headroom_mib` MiB of address space to spare; returns it and
-- its port.
local function limited_server(headroom_mib)
  local server = net.spawn_peer("limited_server", { headroom_mib }, { timeout = 60 })
  local line = server:wait_for("^PORT %d+", 10)
  assert(line, "no port: " .. server:output())
  return server, tonumber(line:match("%d+"))
end

--- What the server process did: its exit status (if it ended) and its output.
local function story(server)
  return "server exit status " .. tostring(server:exit_code()) .. ", output:\n" .. server:output()
end

--- Asserts the server is alive and echoes a message to a new, well-behaved client.
local function assert_served(server, port)
  local client = assert(network.Client("127.0.0.1", port))
  local connected, _, why = client:WaitForConnect(5)
  assert(connected, "no connection (" .. tostring(why) .. "); " .. story(server))
  assert.is_true(client:Send({ "still here" }))
  local e = net.wait_kind(network.EVENT_RECEIVE, client, 5)
  assert(e, "no echo; " .. story(server))
  assert.are.same({ "still here" }, e.Packet)
  client:Disconnect()
  assert.is_nil(server:exit_code(), story(server))
end

describe("a server with an address-space limit", function()
  before_each(net.reset)
  after_each(net.reset)

  it("sets nothing aside for 50 peers' declared 1 GiB messages they do not send, and serves on", function()
    if helper.sanitizer then return pending("a sanitizer's shadow memory does not fit an address-space limit") end
    local server, port = limited_server(256)
    finally(function() server:close() end)
    local peers = net.hello_peers(port, 50, finally)
    for _, raw in ipairs(peers) do assert(raw:send(net.frame("", 0, DECLARED) .. "\x92")) end
    -- A byte more each, once the headers are in: the read that used to set aside the whole
    -- frame, 50 GiB in all, where the server has 256 MiB.
    net.socket.sleep(0.2)
    for _, raw in ipairs(peers) do assert(raw:send("\x01")) end
    net.socket.sleep(0.2)
    assert_served(server, port)
    assert.is_nil(server:output():find("ERROR", 1, true), server:output())
  end)

  it("fails a message larger than the memory left with EVENT_ERROR, and serves on", function()
    if helper.sanitizer then return pending("a sanitizer's shadow memory does not fit an address-space limit") end
    local server, port = limited_server(256)
    finally(function() server:close() end)
    local raw = net.hello_peer(port)
    finally(function() raw:close() end)
    assert(raw:send(net.frame("", 0, DECLARED) .. "\xc4"))
    -- The server's buffer doubles as the bytes come, until the next doubling does not fit.
    local chunk = ("\0"):rep(1 << 20)
    local sent = 0
    while sent < 512 and raw:send(chunk) do sent = sent + 1 end
    local line = server:wait_for("^ERROR", 10)
    assert(line, "no error; " .. story(server))
    assert.are.equal("ERROR out of memory for a message of " .. DECLARED .. " bytes", line)
    assert.is_true(sent >= 64, "the server failed after " .. sent .. " MiB")
    assert_served(server, port)
  end)
end)
