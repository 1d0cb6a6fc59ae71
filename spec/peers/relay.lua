-- A peer process for the specs: a TCP relay (LuaSocket) that listens on 127.0.0.1 (an
-- OS-chosen port) and forwards every connection it accepts to 127.0.0.1:TARGET, byte for byte,
-- both ways. Options change what it does to the bytes:
--   flip=N      flip (xor 0xFF) the byte at offset N of the client->server stream counted
--               from the end of the client's TLS handshake, i.e. from the first byte after its
--               first application_data record (the encrypted Finished); prints "FLIPPED n"
--               with the absolute offset of the byte it flipped
--   delay=S     read nothing from the server side of a connection until S seconds after it
--               opened (the client's TLS handshake then waits that long in the middle)
--   record=DIR  append what each direction carries to DIR/c2s.K and DIR/s2c.K (K = 1, 2, ...
--               the connections in the order accepted)
-- Without options it forwards transparently.
--
--   lua5.4 relay.lua TARGET [flip=N] [delay=S] [record=DIR] [LIFETIME]
--
-- Prints "LISTENING port" once it accepts; "OPEN K" and "CLOSED K" for each connection. When
-- either side of a connection closes, it closes the other. Exits after LIFETIME seconds
-- (default 30), or on SIGTERM.
-- Thread: its own process's Lua thread.
local socket = require "socket"

local target = assert(tonumber(arg[1]), "target port")
local flip_at, delay, record_dir, lifetime
for i = 2, #arg do
  local key, value = arg[i]:match("^(%w+)=(.*)$")
  if key == "flip" then flip_at = assert(tonumber(value), "flip offset")
  elseif key == "delay" then delay = assert(tonumber(value), "delay seconds")
  elseif key == "record" then record_dir = value
  elseif tonumber(arg[i]) then lifetime = tonumber(arg[i])
  else error("unknown option " .. arg[i]) end
end
lifetime = lifetime or 30

local function say(...)
  print(...)
  io.stdout:flush()
end

local listener = assert(socket.bind("127.0.0.1", 0))
listener:settimeout(0)
say("LISTENING " .. select(2, listener:getsockname()))

--- The relayed connections (tables: client and server sockets, counters), by either socket.
local pairs_by_socket = {}
local count = 0

--- Watches the client->server stream for the end of the TLS handshake (record by record:
-- 5-byte header: type, 2-byte version, 2-byte length) and sets `c.app_start`, the absolute
-- offset where the client's application data starts, once known. `c.head` keeps the stream
-- from offset 0 until then (the handshake only: a few hundred bytes).
local function parse_records(c, data)
  if c.app_start then return end
  c.head = c.head .. data
  while not c.app_start do
    local at = c.parsed + 1
    if #c.head < at + 4 then return end
    local kind = c.head:byte(at)
    local length = (c.head:byte(at + 3) << 8) | c.head:byte(at + 4)
    local record_end = c.parsed + 5 + length
    if kind == 23 then c.app_start = record_end end  -- the Finished, encrypted
    c.parsed = record_end
  end
end

--- Applies the flip option to a chunk of the client->server stream at absolute offset `base`.
local function tamper(c, data, base)
  if not flip_at or c.flipped or not c.app_start then return data end
  local at = c.app_start + flip_at  -- absolute offset of the byte to flip
  if at < base or at >= base + #data then return data end
  local i = at - base + 1
  c.flipped = true
  say("FLIPPED " .. at)
  return data:sub(1, i - 1) .. string.char(data:byte(i) ~ 0xFF) .. data:sub(i + 1)
end

local function open(client)
  local server = socket.tcp()
  server:settimeout(5)
  local ok, err = server:connect("127.0.0.1", target)
  if not ok then
    say("CONNECT-FAILED " .. tostring(err))
    client:close()
    return
  end
  count = count + 1
  client:settimeout(0)
  server:settimeout(0)
  local c = { id = count, client = client, server = server, c2s = 0, s2c = 0,
    head = "", parsed = 0, hold_until = socket.gettime() + (delay or 0) }
  if record_dir then
    c.c2s_file = assert(io.open(record_dir .. "/c2s." .. count, "wb"))
    c.s2c_file = assert(io.open(record_dir .. "/s2c." .. count, "wb"))
  end
  pairs_by_socket[client] = c
  pairs_by_socket[server] = c
  say("OPEN " .. count)
end

local function close(c)
  if c.closed then return end
  c.closed = true
  pairs_by_socket[c.client] = nil
  pairs_by_socket[c.server] = nil
  c.client:close()
  c.server:close()
  if c.c2s_file then c.c2s_file:close(); c.s2c_file:close() end
  say("CLOSED " .. c.id)
end

--- Sends all of `data` (blocking up to 5 s: the receivers are mmnet or openssl, which read).
local function send_all(sock, data)
  sock:settimeout(5)
  local ok, err = sock:send(data)
  sock:settimeout(0)
  return ok, err
end

local deadline = socket.gettime() + lifetime
while socket.gettime() < deadline do
  local watch = { listener }
  local now = socket.gettime()
  for sock, c in pairs(pairs_by_socket) do
    if sock ~= c.server or now >= c.hold_until then watch[#watch + 1] = sock end
  end
  local readable = socket.select(watch, nil, 0.05)
  for _, sock in ipairs(readable) do
    if sock == listener then
      local client = listener:accept()
      if client then open(client) end
    elseif pairs_by_socket[sock] then
      local c = pairs_by_socket[sock]
      local data, err, partial = sock:receive(65536)
      data = data or partial
      if data and #data > 0 then
        if sock == c.client then
          parse_records(c, data)
          local out = tamper(c, data, c.c2s)
          c.c2s = c.c2s + #data
          if c.c2s_file then c.c2s_file:write(data); c.c2s_file:flush() end
          if not send_all(c.server, out) then close(c) end
        else
          c.s2c = c.s2c + #data
          if c.s2c_file then c.s2c_file:write(data); c.s2c_file:flush() end
          if not send_all(c.client, data) then close(c) end
        end
      end
      if err == "closed" then close(c) end
    end
  end
end
for _, c in pairs(pairs_by_socket) do close(c) end
os.exit(0)
