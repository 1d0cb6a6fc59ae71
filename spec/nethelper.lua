-- Helpers for the networking specs: the module loaded in the busted process, a buffer of
-- polled events with "wait for an event like this within T seconds", connected pairs, raw
-- LuaSocket peers that speak (or do not speak) mmnet's wire protocol, and lua5.4 peer
-- processes running the scripts of spec/peers/.
--
-- Thread: the busted process's Lua thread only. Every wait here has a time limit.
local helper = require "helper"
local socket = require "socket"
local network = require "mmnet"

local net = { network = network, socket = socket }

--- Wall-clock seconds (LuaSocket's gettime: a float with sub-millisecond precision).
net.now = socket.gettime

--- Event code -> name, for messages.
net.names = {}
for _, name in ipairs { "EVENT_CONNECT", "EVENT_CONNECTED", "EVENT_RECEIVE",
    "EVENT_SERVER_CLOSE", "EVENT_CLIENT_CLOSE", "EVENT_ERROR" } do
  net.names[network[name]] = name
end

--- The events polled and not yet taken by a wait, oldest first.
net.pending = {}

--- One event in words, for failure messages.
function net.describe(e)
  return string.format("%s(%s)%s", net.names[e.Event] or tostring(e.Event), tostring(e.Object),
    e.Errors and (" " .. e.Errors) or "")
end

--- All pending events in words.
function net.describe_pending()
  local out = {}
  for i = math.max(1, #net.pending - 9), #net.pending do out[#out + 1] = net.describe(net.pending[i]) end
  if #out == 0 then return "(no events)" end
  return #net.pending .. " events, the last: " .. table.concat(out, "; ")
end

--- Polls once (waiting up to `timeout` seconds) and appends what came to `net.pending`.
-- @return integer how many events came
function net.pump(timeout)
  local events = network.PollEvents(timeout or 0.05)
  for _, e in ipairs(events) do net.pending[#net.pending + 1] = e end
  return #events
end

--- Whether event `e` matches `match`: a function, or a table of fields that must be equal
-- (rawequal for Object), e.g. { Event = network.EVENT_CONNECT }.
local function matches(e, match)
  if type(match) == "function" then return match(e) end
  for k, v in pairs(match) do
    if k == "Object" then
      if not rawequal(e.Object, v) then return false end
    elseif e[k] ~= v then
      return false
    end
  end
  return true
end

--- Removes and returns the first pending event that matches, if any.
function net.take(match)
  for i, e in ipairs(net.pending) do
    if matches(e, match) then return table.remove(net.pending, i) end
  end
end

--- Waits up to `seconds` for an event that matches `match` (see `matches`); earlier events
-- that do not match stay pending.
-- @return table|nil the event, or nil and the pending events in words
function net.wait(match, seconds)
  local deadline = net.now() + (seconds or 5)
  repeat
    local e = net.take(match)
    if e then return e end
    net.pump(0.05)
  until net.now() > deadline
  local e = net.take(match)
  if e then return e end
  return nil, "timed out; pending: " .. net.describe_pending()
end

--- Waits up to `seconds` for an event of code `kind`, about `object` if given.
function net.wait_kind(kind, object, seconds)
  return net.wait({ Event = kind, Object = object }, seconds)
end

--- Polls for `seconds` and returns the pending events that match (removing them).
function net.collect(match, seconds)
  local deadline = net.now() + seconds
  repeat net.pump(0.05) until net.now() > deadline
  local found = {}
  local i = 1
  while i <= #net.pending do
    if matches(net.pending[i], match) then
      found[#found + 1] = table.remove(net.pending, i)
    else
      i = i + 1
    end
  end
  return found
end

--- Polls until a connection's EVENT_CLIENT_CLOSE, checking that the messages arrive in order
-- from `seq` 1, from the connection of the EVENT_CONNECT; any event but these, EVENT_CONNECT
-- and EVENT_ERROR fails the test.
-- @param seconds number|nil time limit (default 20)
-- @param on_message function|nil called with each message's seq (a slow reader sleeps there)
-- @param on_poll function|nil called with each PollEvents result first
-- @return the next seq expected, the EVENT_ERROR reasons, the close event (nil if none came)
-- and the server's ClientConnection (nil if its EVENT_CONNECT was not among them)
function net.receive_until_close(seconds, on_message, on_poll)
  local expected, errors, close, conn = 1, {}, nil, nil
  local deadline = net.now() + (seconds or 20)
  while not close and net.now() < deadline do
    local events = network.PollEvents(0.05)
    if on_poll then on_poll(events) end
    for _, e in ipairs(events) do
      if e.Event == network.EVENT_CONNECT then
        conn = e.Object
      elseif e.Event == network.EVENT_RECEIVE then
        assert(conn == nil or rawequal(conn, e.Object), "a message from another connection")
        assert(e.Packet.seq == expected, "expected seq " .. expected .. ", got " .. tostring(e.Packet.seq))
        if on_message then on_message(expected) end
        expected = expected + 1
      elseif e.Event == network.EVENT_ERROR then
        errors[#errors + 1] = e.Errors
      elseif e.Event == network.EVENT_CLIENT_CLOSE then
        close = e
      else
        error("unexpected " .. net.describe(e) .. " after seq " .. (expected - 1))
      end
    end
  end
  return expected, errors, close, conn
end

--- Drops every pending and queued event (between tests) and restores the default settings.
function net.reset()
  net.pending = {}
  network.PollEvents()
  network.Configure(net.defaults)
  collectgarbage()
  collectgarbage()
  network.PollEvents()
end

--- The default settings, as Configure reports them when the module is fresh.
net.defaults = network.Configure()

--- A server on 127.0.0.1 (OS-chosen port), a client connected to it, and the server's
-- ClientConnection for that client, all three connected (events CONNECT/CONNECTED taken).
-- @param server table|nil an existing server to connect to
-- @return server, client, connection
function net.pair(server)
  server = server or assert(network.Server("127.0.0.1", 0))
  local client = assert(network.Client(server:GetAddress(), server:GetPort()))
  local connected = assert(net.wait_kind(network.EVENT_CONNECTED, client, 5))
  assert(connected.Result == true, connected.Errors)
  local connect = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5))
  return server, client, connect.Object
end

--- Asserts a server and its good client (from `net.pair`, or connected alike) still exchange
-- messages both ways: what every hostile-peer spec checks after the attack.
function net.assert_still_working(server, client, c)
  assert(client:Send({ "still here" }) == true, "the good client could not send")
  local e = assert(net.wait_kind(network.EVENT_RECEIVE, c, 5), "the server got nothing from the good client")
  assert(e.Packet[1] == "still here")
  assert(server:Send({ "you too" }, c) == 1, "the server could not send to the good client")
  e = assert(net.wait_kind(network.EVENT_RECEIVE, client, 5), "the good client got nothing from the server")
  assert(e.Packet[1] == "you too")
end

-- ---- Raw peers over LuaSocket -----------------------------------------------------------

--- mmnet's hello: "MMNT", version 1, flags 0, two zero bytes.
net.HELLO = "MMNT\1\0\0\0"

--- A frame: 4-byte big-endian body length, 1-byte type, body.
function net.frame(body, frame_type, length)
  return string.pack(">I4B", length or #body, frame_type or 0) .. body
end

--- A raw TCP connection to `port` on 127.0.0.1 (LuaSocket), with a time limit on its calls.
-- @return the LuaSocket tcp object, and its local port
function net.raw_connect(port, host)
  local sock = assert(socket.tcp())
  sock:settimeout(5)
  assert(sock:connect(host or "127.0.0.1", port))
  local _, local_port = sock:getsockname()
  return sock, tonumber(local_port)
end

--- A raw connection to `port` past the hello: ours sent, the server's read (so the server has
-- accepted it, and a close of this socket is a FIN, not a reset).
function net.hello_peer(port)
  local raw = net.raw_connect(port)
  raw:setoption("tcp-nodelay", true)
  assert(raw:send(net.HELLO))
  assert(raw:receive(#net.HELLO) == net.HELLO, "no hello from the server")
  return raw
end

--- `count` peers from `net.hello_peer`, closed when the running test ends.
-- @param finally function the test's `finally` (busted gives it to spec files only)
function net.hello_peers(port, count, finally)
  local peers = {}
  finally(function() for _, raw in ipairs(peers) do raw:close() end end)
  for i = 1, count do peers[i] = net.hello_peer(port) end
  return peers
end

-- ---- Peer processes ----------------------------------------------------------------------

--- The command line that runs spec/peers/<name>.lua with lua5.4 against the test tree (and
-- the system's own modules, e.g. LuaSocket).
function net.peer_command(name, ...)
  local words = {}
  for i, a in ipairs { ... } do words[i] = helper.quote(a) end
  local path = helper.tree .. "/share/lua/5.4/?.lua;" .. helper.root .. "/spec/?.lua;;"
  local cpath = helper.tree .. "/lib/lua/5.4/?.so;;"
  return "exec env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" .. helper.quote(path) ..
    " LUA_CPATH=" .. helper.quote(cpath) .. " " .. helper.lua .. " " ..
    helper.quote(helper.root .. "/spec/peers/" .. name .. ".lua") .. " " .. table.concat(words, " ")
end

--- Starts a peer process in the background (see helper.spawn).
function net.spawn_peer(name, args, opts)
  return helper.spawn(net.peer_command(name, table.unpack(args or {})), opts or { timeout = 60 })
end

return net
