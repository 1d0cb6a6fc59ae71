-- Peers that do not speak mmnet, or speak it badly: an HTTP request, random bytes, silence
-- past HelloTimeout (refused with an EVENT_ERROR naming the peer, never an EVENT_CONNECT);
-- and after a valid hello, an oversized length, malformed MessagePack, an unknown frame type
-- (EVENT_ERROR then EVENT_CLIENT_CLOSE on that connection; the server and the other
-- connections go on). Raw peers are LuaSocket sockets in the busted process.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

describe("a hostile peer", function()
  before_each(net.reset)
  after_each(net.reset)

  --- A server with one well-behaved client, to check that it goes on working.
  local function server_with_good_client()
    local server, client, c = net.pair()
    return server, client, c
  end

  --- A second client of `server`, connected, and its ClientConnection.
  local function other_client_of(server)
    local client = assert(network.Client(server:GetAddress(), server:GetPort()))
    local connection = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    assert(net.wait_kind(network.EVENT_CONNECTED, client, 5))
    return client, connection
  end

  local refusals = {
    { "an HTTP request", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP" },
    { "random bytes", "\x8f\x12\xfe\x00\x7a\x99\x01\x02\x03\x04\x05", "not mmnet" },
    { "a TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", "TLS" },
    { "another protocol version", "MMNT\2\0\0\0", "version" },
    { "unknown hello flags", "MMNT\1\4\0\0", "flags" },
  }
  for _, case in ipairs(refusals) do
    it("sending " .. case[1] .. " is refused with EVENT_ERROR naming its address, never EVENT_CONNECT", function()
      local server, client, c = server_with_good_client()
      local raw, port = net.raw_connect(server:GetPort())
      finally(function() raw:close() end)
      assert(raw:send(case[2]))
      local e = assert(net.wait_kind(network.EVENT_ERROR, nil, 5))
      assert.is_true(rawequal(server, e.Object))
      assert.is_truthy(e.Errors:find("127.0.0.1:" .. port, 1, true), e.Errors)
      assert.is_truthy(e.Errors:find(case[3], 1, true), e.Errors)
      -- The server closed it: the raw peer reads its hello, then the end.
      raw:settimeout(2)
      local data, err, partial = raw:receive("*a")
      assert.are.equal(net.HELLO, data or partial, tostring(err))
      assert.are.same({}, net.collect({ Event = network.EVENT_CONNECT }, 0.2))
      assert.are.equal(1, server:ConnectionCount())
      net.assert_still_working(server, client, c)
    end)
  end

  it("saying nothing for longer than HelloTimeout is refused with EVENT_ERROR naming its address", function()
    network.Configure({ HelloTimeout = 0.3 })
    local server, client, c = server_with_good_client()
    -- From before the connect: the server's HelloTimeout starts at its accept, which may
    -- come well before this thread runs again after the connect (a stall of 0.1 s there
    -- made it 0.2 s).
    local start = net.now()
    local raw, port = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    local e = assert(net.wait_kind(network.EVENT_ERROR, nil, 5))
    local took = net.now() - start
    assert.is_true(took >= 0.25 and took < 1.5, tostring(took))
    assert.is_true(rawequal(server, e.Object))
    assert.is_truthy(e.Errors:find("127.0.0.1:" .. port, 1, true), e.Errors)
    assert.is_truthy(e.Errors:find("no hello", 1, true), e.Errors)
    assert.are.same({}, net.collect({ Event = network.EVENT_CONNECT }, 0.2))
    net.assert_still_working(server, client, c)
  end)

  it("a peer that resets before the server's hello is written: EVENT_ERROR 'connection reset by peer'", function()
    -- Accepting is held while a "wait" queue is full: the peer connects and resets in the
    -- backlog, and the server's first write, its hello, meets the reset.
    network.Configure({ QueueFull = "wait", EventQueueSize = 1 })
    local server = assert(network.Server("127.0.0.1", 0))
    local client = assert(network.Client("127.0.0.1", server:GetPort()))
    assert(client:WaitForConnect(5))
    assert.is_truthy(helper.wait_until(function() return network.GetStats().EventsQueued >= 1 end, 5))
    local raw, port = net.raw_connect(server:GetPort())
    raw:setoption("linger", { on = true, timeout = 0 })
    raw:close()  -- a reset
    -- Before: "write failed: Connection reset by peer".
    local e = assert(net.wait_kind(network.EVENT_ERROR, server, 5))
    assert.are.equal("127.0.0.1:" .. port .. ": connection reset by peer", e.Errors)
  end)

  it("a HelloTimeout changed during a hello names the time the hello really had", function()
    network.Configure({ HelloTimeout = 0.3 })
    local server, client, c = server_with_good_client()
    local raw, port = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    assert.are.equal(net.HELLO, raw:receive(#net.HELLO))  -- accepted: its time is running
    -- The new value is for new connections; this one keeps its 0.3 s (before: the message
    -- said "within 20 s").
    network.Configure({ HelloTimeout = 20 })
    local e = assert(net.wait_kind(network.EVENT_ERROR, nil, 5))
    assert.are.equal("127.0.0.1:" .. port .. ": no hello from peer within 0.3 s", e.Errors)
    net.assert_still_working(server, client, c)
  end)

  it("half a hello then silence is refused at HelloTimeout", function()
    network.Configure({ HelloTimeout = 0.3 })
    local server = assert(network.Server("127.0.0.1", 0))
    local raw, port = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    assert(raw:send("MMN"))
    local e = assert(net.wait_kind(network.EVENT_ERROR, nil, 5))
    assert.is_truthy(e.Errors:find("127.0.0.1:" .. port, 1, true), e.Errors)
    assert.are.same({}, net.collect({ Event = network.EVENT_CONNECT }, 0.2))
  end)

  it("a client whose server says nothing fails with EVENT_CONNECTED Result false at HelloTimeout", function()
    network.Configure({ HelloTimeout = 0.3 })
    local listener = assert(net.socket.bind("127.0.0.1", 0))
    finally(function() listener:close() end)
    local _, port = listener:getsockname()
    local client = assert(network.Client("127.0.0.1", tonumber(port)))
    local e = assert(net.wait_kind(network.EVENT_CONNECTED, client, 5))
    assert.is_false(e.Result)
    assert.is_truthy(e.Errors:find("hello", 1, true), e.Errors)
  end)

  -- Each with the whole of its reason.
  local frames = {
    { "a length over MaxMessageSize", net.frame("", 0, 5000), "message of 5000 bytes is over MaxMessageSize (1024)" },
    { "malformed MessagePack", net.frame("\xc1", 0),
      "malformed message: the message must be a table (MessagePack map or array), found an invalid byte (0xc1) at byte 0" },
    { "truncated MessagePack", net.frame("\x92\x01", 0), "malformed message: array of 2 entries declared at byte 0 but only 1 bytes remain" },
    { "two values in one message", net.frame("\x01\x02", 0),
      "malformed message: the message must be a table (MessagePack map or array), found an integer (0x01) at byte 0" },
    { "an unknown frame type", net.frame("abc", 7), "unknown frame type 7" },
    { "a ping of the wrong size", net.frame("abc", 1), "control frame of 3 bytes (expected 8)" },
  }
  for _, case in ipairs(frames) do
    it("a valid hello then " .. case[1] .. ": EVENT_ERROR then EVENT_CLIENT_CLOSE, the rest goes on", function()
      network.Configure({ MaxMessageSize = 1024 })
      local server, client, c = server_with_good_client()
      local raw = net.raw_connect(server:GetPort())
      finally(function() raw:close() end)
      assert(raw:send(net.HELLO))
      local bad = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
      -- One good message first: the connection really works until the bad frame.
      assert(raw:send(net.frame("\x91\xa2ok", 0)))
      assert.are.same({ "ok" }, assert(net.wait_kind(network.EVENT_RECEIVE, bad, 5)).Packet)
      assert(raw:send(case[2]))
      local e = assert(net.wait({ Object = bad }, 5))
      assert.are.equal(network.EVENT_ERROR, e.Event, net.describe(e))
      assert.are.equal(case[3], e.Errors)
      local close = assert(net.wait({ Object = bad }, 5))
      assert.are.equal(network.EVENT_CLIENT_CLOSE, close.Event, net.describe(close))
      assert.are.equal(1, server:ConnectionCount())
      net.assert_still_working(server, client, c)
    end)
  end

  it("a ping is answered with a pong and never reaches the script", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    assert(raw:send(net.HELLO .. net.frame("12345678", 1)))
    assert.is_truthy(net.wait_kind(network.EVENT_CONNECT, nil, 5))
    raw:settimeout(5)
    assert.are.equal(net.HELLO .. net.frame("12345678", 2), raw:receive(8 + 5 + 8))
    assert.are.same({}, net.collect({ Event = network.EVENT_RECEIVE }, 0.2))
  end)

  it("a frame split into single bytes still arrives whole", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local raw = net.raw_connect(server:GetPort())
    finally(function() raw:close() end)
    raw:setoption("tcp-nodelay", true)
    local bytes = net.HELLO .. net.frame("\x81\xa1k\xa1v", 0)
    for i = 1, #bytes do
      assert(raw:send(bytes:sub(i, i)))
      net.socket.sleep(0.002)
    end
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    assert.are.same({ k = "v" }, assert(net.wait_kind(network.EVENT_RECEIVE, c, 5)).Packet)
  end)

  it("a message queued under a MaxDepth since lowered becomes EVENT_ERROR at poll, and its connection closes", function()
    local server, client, c = server_with_good_client()
    local other_client, other = other_client_of(server)
    assert.is_true(other_client:Send({ a = { b = { c = { d = 1 } } } }))
    -- Validated and queued by the I/O thread under MaxDepth 64, not yet polled.
    local deadline = net.now() + 5
    while network.GetStats().EventsQueued < 1 and net.now() < deadline do require("socket").sleep(0.01) end
    assert.are.equal(1, network.GetStats().EventsQueued)
    local refused = network.GetStats().MessagesRefused
    network.Configure({ MaxDepth = 2 })
    local e = assert(net.wait_kind(network.EVENT_ERROR, other, 5))
    assert.are.equal("message nested deeper than 2 levels (at byte 6)", e.Errors)
    assert.is_nil(e.Packet)
    assert.is_number(e.Timestamp)
    -- Then, as for a malformed message read from the wire: the close event on both sides.
    local closed = assert(net.wait_kind(network.EVENT_CLIENT_CLOSE, other, 5))
    assert.are.equal(e.Errors, closed.Errors)
    assert(net.wait_kind(network.EVENT_SERVER_CLOSE, other_client, 5))
    assert.are.equal(refused + 1, network.GetStats().MessagesRefused)
    network.Configure({ MaxDepth = 64 })
    net.assert_still_working(server, client, c)
  end)

  it("after a queued message refused at poll, none of its connection's later messages is delivered", function()
    local server, client, c = server_with_good_client()
    local other_client, other = other_client_of(server)
    for i = 1, 6 do assert.is_true(other_client:Send({ i = i, d = ("a"):rep(i % 2 == 0 and 500 or 10) })) end
    local deadline = net.now() + 5
    while network.GetStats().EventsQueued < 6 and net.now() < deadline do net.socket.sleep(0.01) end
    local refused = network.GetStats().MessagesRefused
    network.Configure({ MaxMessageSize = 100 })
    finally(function() network.Configure({ MaxMessageSize = 16777216 }) end)
    -- Message 1 fits; 2 does not: then, as after a malformed message from the wire, nothing
    -- more from that connection but its close event (before: 3, 5 and another error for 4).
    local seen = {}
    local closed = false
    deadline = net.now() + 5
    while not closed and net.now() < deadline do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Object == other then
          seen[#seen + 1] = e.Event == network.EVENT_RECEIVE and ("message " .. e.Packet.i) or e.Errors
          closed = e.Event == network.EVENT_CLIENT_CLOSE
        end
      end
    end
    local reason = "message of 509 bytes is larger than the limit of 100 bytes"
    assert.are.same({ "message 1", reason, reason }, seen)
    assert.are.equal(refused + 1, network.GetStats().MessagesRefused)
    net.assert_still_working(server, client, c)
  end)

  it("a Python peer with a stock msgpack library talks to mmnet both ways", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local script = [[
import socket, struct, sys, msgpack
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"MMNT\x01\x00\x00\x00")
body = msgpack.packb({"from": "python", "n": [1, 2, 3]})
s.sendall(struct.pack(">IB", len(body), 0) + body)
buf = b""
while len(buf) < 8 + 5 or len(buf) < 13 + struct.unpack(">I", buf[8:12])[0]:
    chunk = s.recv(4096)
    if not chunk: break
    buf += chunk
n = struct.unpack(">I", buf[8:12])[0]
print("GOT", msgpack.unpackb(buf[13:13 + n], raw=False))
]]
    local proc = require("helper").spawn("/usr/bin/python3 -c " .. require("helper").quote(script) ..
      " " .. server:GetPort(), { timeout = 20 })
    finally(function() proc:close() end)
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 10)).Object
    local e = assert(net.wait_kind(network.EVENT_RECEIVE, c, 5))
    assert.are.same({ from = "python", n = { 1, 2, 3 } }, e.Packet)
    assert.are.equal(1, server:Send({ reply = true }, c))
    assert.is_truthy(proc:wait_for("^GOT", 10), proc:output())
    assert.is_truthy(proc:output():find("GOT {'reply': True}", 1, true), proc:output())
  end)
end)
