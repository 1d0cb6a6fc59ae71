-- Soak: mixed traffic over many connections, both ways, plain and (when this build has it)
-- encrypted, with a sequence check on every message: per connection, none lost, duplicated
-- or reordered. One process runs the servers (this script as "driver"); a second runs the
-- clients (this script as "clients", started by the driver). Messages carry {seq, ack, pad}:
-- seq numbers each data message per direction and connection, ack is the last seq received
-- (a sliding window: with QueueFull = "drop" at most WINDOW messages per connection are in
-- flight, so a receiver that polls often never overflows its event queue; with "wait" the
-- window is unlimited and mmnet's own back-pressure must lose nothing).
--
--   lua5.4 soak.lua driver SECONDS [MODE] [CONNECTIONS] [options]
--     MODE          wait | drop (default wait)
--     CONNECTIONS   total, half of them encrypted when encryption is available (default 32)
--     --bind ADDR            address the servers listen on (default 127.0.0.1)
--     --connect ADDR         address the clients connect to (default: the bind address)
--     --via PORTFILE         the clients connect to the ports a relay wrote to PORTFILE ("plain
--                            PORT" and "encrypted PORT" lines), which forwards to our servers
--     --peer-prefix CMD      runs the clients process under CMD (e.g. "ip netns exec mmnet-b")
--     --plain-only           no encrypted connections
--     --ready-file FILE      writes "plain PORT\nencrypted PORT\n" there once listening
--     --window N             messages in flight per connection ("inf": no window; default
--                            48 with drop, inf with wait)
--     --queue N              EventQueueSize of the clients process (default mmnet's 2000)
--     --grace N              seconds after SECONDS for every connection to complete (60)
--
-- The driver prints one summary line per side and "SOAK PASSED" or "SOAK FAILED: why";
-- exit status 0 only when every check passed. Every wait has a time limit.
--
-- Thread: each process's Lua thread only.
local network = require "mmnet"
local socket = require "socket"

local KEY = ("ab"):rep(16)
local now = socket.gettime

-- ---- Arguments ---------------------------------------------------------------------------
local role = arg[1]
local seconds = tonumber(arg[2])
local mode = arg[3] or "wait"
local connections = tonumber(arg[4] or 32)
local options = {}
do
  local i = 5
  while arg[i] do
    local name = arg[i]:match("^%-%-(.+)$")
    assert(name, "unknown argument " .. arg[i])
    if name == "plain-only" then
      options[name] = true
      i = i + 1
    else
      options[name] = assert(arg[i + 1], "--" .. name .. " needs a value")
      i = i + 2
    end
  end
end
assert(role == "driver" or role == "clients", "usage: soak.lua driver SECONDS [MODE] [CONNECTIONS] [options]")
assert(seconds and seconds > 0, "SECONDS")
assert(mode == "wait" or mode == "drop", "MODE is wait or drop")

local WINDOW = mode == "drop" and 48 or math.huge
if options.window then WINDOW = options.window == "inf" and math.huge or assert(tonumber(options.window)) end
-- Per loop pass and connection, at most this many data messages: every connection gets a turn.
local BURST = 16
network.Configure({ QueueFull = mode, SendQueueLimit = 1024 * 1024,
  EventQueueSize = role == "clients" and tonumber(options.queue) or network.Configure().EventQueueSize })

--- A payload size: mostly small, sometimes kilobytes, rarely 64 KiB.
local function pad_size()
  local r = math.random()
  if r < 0.90 then return math.random(0, 100) end
  if r < 0.995 then return math.random(1024, 4096) end
  return 65536
end
local pads = {}
local function pad()
  local n = pad_size()
  pads[n] = pads[n] or ("p"):rep(n)
  return pads[n]
end

-- ---- One side's bookkeeping --------------------------------------------------------------
--- Per-connection state: what we sent, what we received, the checks.
local Link = {}
Link.__index = Link

--- A link over `object`, sent through `send(t) -> ok, why`; `label` names it in messages.
local function new_link(object, send, label, encrypted)
  return setmetatable({ object = object, send_raw = send, label = label, encrypted = encrypted,
    sent = 0, received = 0, peer_ack = 0, ack_sent = 0, bytes = 0,
    lost = 0, duplicated = 0, reordered = 0, done_sent = false, peer_total = nil, closed = false }, Link)
end

--- Checks one message from the peer.
function Link:receive(m)
  if m.seq then
    if m.seq == self.received + 1 then
      self.received = m.seq
    elseif m.seq > self.received + 1 then
      self.lost = self.lost + (m.seq - self.received - 1)
      self.received = m.seq
    elseif m.seq == self.received then
      self.duplicated = self.duplicated + 1
    else
      self.reordered = self.reordered + 1
    end
    self.bytes = self.bytes + #(m.pad or "")
  end
  if m.ack and m.ack > self.peer_ack then self.peer_ack = m.ack end
  if m.done then self.peer_total = m.total end
  if m.bye then self.bye_received = true end
end

--- Sends what the window and the send queue allow; `sending` false: only acks and the end.
function Link:pump(sending)
  if self.closed or self.bye_sent then return end
  local n = 0
  while sending and n < BURST and self.sent - self.peer_ack < WINDOW do
    local ok, why = self.send_raw({ seq = self.sent + 1, ack = self.received, pad = pad() })
    if not ok then
      assert(tostring(why):find("queue full", 1, true), self.label .. ": Send: " .. tostring(why))
      return
    end
    self.sent = self.sent + 1
    self.ack_sent = self.received
    n = n + 1
  end
  if not sending and not self.done_sent then
    if self.send_raw({ done = true, total = self.sent, ack = self.received }) then
      self.done_sent = true
      self.ack_sent = self.received
    end
  elseif self.received - self.ack_sent >= 16 or (self.received > self.ack_sent and n == 0) then
    if self.send_raw({ ack = self.received }) then self.ack_sent = self.received end
  end
end

--- Whether both directions are complete: our end sent, the peer's end received with every
-- message it announced.
function Link:complete()
  return self.done_sent and self.peer_total ~= nil and self.received == self.peer_total
end

--- Whether this side is done with the link. The server side, once complete, sends a last
-- {bye} and nothing after it; the client side waits for that bye before it disconnects, so
-- no byte is ever sent to a socket its owner has closed (which would reset the connection).
function Link:finished()
  if not self:complete() then return false end
  if role == "clients" then return self.bye_received == true end
  if not self.bye_sent and self.send_raw({ bye = true }) then self.bye_sent = true end
  return self.bye_sent == true
end

--- The first problem of this link, or nil.
function Link:problem()
  if self.lost + self.duplicated + self.reordered > 0 then
    return string.format("%s: %d lost, %d duplicated, %d reordered", self.label, self.lost,
      self.duplicated, self.reordered)
  end
  if self.peer_total and self.received ~= self.peer_total then
    return string.format("%s: received %d of %d", self.label, self.received, self.peer_total)
  end
end

--- Sums over links for the summary line.
local function summary(side, links, took)
  local sent, received, bytes, enc = 0, 0, 0, 0
  for _, l in ipairs(links) do
    sent, received, bytes = sent + l.sent, received + l.received, bytes + l.bytes
    if l.encrypted then enc = enc + 1 end
  end
  local stats = network.GetStats()
  local rtt, rtts = 0, 0
  for _, l in ipairs(links) do
    local ok, s = pcall(l.object.GetStats, l.object)
    if ok and s and s.SmoothedRTT then rtt, rtts = rtt + s.SmoothedRTT, rtts + 1 end
  end
  return string.format("%s: %d connections (%d encrypted), mode %s, %.1f s: sent %d, received %d " ..
    "(%.0f msg/s, %.2f MB/s of payload in), events dropped %d, mean smoothed RTT %.1f ms; " ..
    "every message sequence-checked",
    side, #links, enc, mode, took, sent, received, received / took, bytes / took / 1e6,
    stats.EventsDropped, rtts > 0 and rtt / rtts * 1000 or -1), stats.EventsDropped
end

--- Runs the traffic loop until `seconds` have passed and every link is complete; returns
-- an error message or nil. `on_event(e)` handles events that are not messages.
local overflowed = 0
local grace = tonumber(options.grace or 60)
local function run_traffic(links_by_object, links, deadline_extra, on_event)
  local start = now()
  local stop_at = start + seconds
  local hard_deadline = stop_at + deadline_extra
  while true do
    local t = now()
    local sending = t < stop_at
    for _, e in ipairs(network.PollEvents(0.002)) do
      local lost_events = e.Event == network.EVENT_ERROR and
        tonumber(tostring(e.Errors):match("^event queue overflow: (%d+) events lost"))
      if lost_events then
        -- Not fatal here: the sequence checks must find what went missing.
        overflowed = overflowed + lost_events
      elseif e.Event == network.EVENT_RECEIVE then
        local link = links_by_object[e.Object]
        if not link then return "message from an unknown object" end
        link:receive(e.Packet)
      else
        local why = on_event(e)
        if why then return why end
      end
    end
    local all = true
    for _, l in ipairs(links) do
      l:pump(sending)
      if not l:finished() then all = false end
    end
    if not sending and all then break end
    if t > hard_deadline then
      -- Any link not finished fails the run, complete or not: a complete link can still wait
      -- for ever for a bye its event queue dropped.
      for _, l in ipairs(links) do
        if not l:finished() then
          return string.format("%s unfinished after the deadline: sent %d (done %s), received %d of %s, " ..
            "bye %s, %d lost, %d duplicated, %d reordered so far; %d events lost to queue overflow",
            l.label, l.sent, tostring(l.done_sent), l.received, tostring(l.peer_total),
            l.bye_received and "received" or (l.bye_sent and "sent" or "not yet"), l.lost,
            l.duplicated, l.reordered, overflowed)
        end
      end
    end
  end
  local overflow = overflowed .. " events lost to queue overflow"
  for _, l in ipairs(links) do
    local p = l:problem()
    if p then return overflowed > 0 and (p .. "; " .. overflow) or p end
  end
  if overflowed > 0 then return overflow end
  return nil, now() - start
end

local function out(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

-- ---- Clients process ---------------------------------------------------------------------
if role == "clients" then
  local address = assert(options.connect)
  local plain_port = assert(tonumber(options["plain-port"]))
  local enc_port = tonumber(options["encrypted-port"])
  local links, by_object = {}, {}
  for i = 1, connections do
    local encrypted = enc_port ~= nil and i % 2 == 0
    local client = assert(network.Client(address, encrypted and enc_port or plain_port, encrypted and KEY or nil))
    local link = new_link(client, function(t) return client:Send(t) end, "client " .. i, encrypted)
    links[i], by_object[client] = link, link
  end
  for i, l in ipairs(links) do
    local ok, _, why = l.object:WaitForConnect(10)
    if not ok then out("SOAK FAILED: client " .. i .. " did not connect: " .. tostring(why)); os.exit(1) end
  end
  local why, took = run_traffic(by_object, links, grace, function(e)
    if e.Event == network.EVENT_CONNECTED then return nil end
    return "unexpected event " .. tostring(e.Event) .. " " .. tostring(e.Errors)
  end)
  if why then out("SOAK FAILED: clients: " .. why); os.exit(1) end
  local line, dropped = summary("clients", links, took)
  out(line)
  for _, l in ipairs(links) do l.object:Disconnect() end
  if dropped > 0 and mode == "drop" then out("SOAK FAILED: clients dropped events"); os.exit(1) end
  out("CLIENTS PASSED")
  os.exit(0)
end

-- ---- Driver: the servers, and the clients process ------------------------------------------
local bind = options.bind or "127.0.0.1"
local plain_server = assert(network.Server(bind, 0))
local enc_server, enc_why
if not options["plain-only"] then
  enc_server, enc_why = network.Server(bind, 0, KEY)
end
if not enc_server then
  out("encrypted connections skipped: " .. tostring(enc_why or "--plain-only"))
end
local ports = "plain " .. plain_server:GetPort() .. "\n" ..
  (enc_server and ("encrypted " .. enc_server:GetPort() .. "\n") or "")
if options["ready-file"] then
  local f = assert(io.open(options["ready-file"], "w"))
  f:write(ports)
  f:close()
end

local connect, plain_port, enc_port = options.connect or bind, plain_server:GetPort(), enc_server and enc_server:GetPort()
if options.via then
  -- A relay forwards to our servers; it writes the ports it listens on once it is ready.
  local deadline = now() + 10
  local text
  repeat
    local f = io.open(options.via)
    text = f and f:read("a")
    if f then f:close() end
    if not (text and text:find("plain %d+")) then socket.sleep(0.05) end
  until (text and text:find("plain %d+")) or now() > deadline
  assert(text and text:find("plain %d+"), "no relay ports in " .. options.via)
  plain_port = tonumber(text:match("plain (%d+)"))
  enc_port = enc_server and tonumber(text:match("encrypted (%d+)"))
end

local log = os.tmpname()
local self_path = arg[0]
-- The clients process has a time limit of its own (connects, the run, the grace, exiting), so
-- that a hung one is reported ("EXIT 124") instead of holding the driver.
local command = string.format("%s timeout -k 5 %d %s %s clients %s %s %d --connect %s --plain-port %d%s%s%s%s > %s 2>&1",
  options["peer-prefix"] or "", math.ceil(seconds + grace + 15), arg[-1] or "lua5.4", self_path, seconds, mode, connections, connect,
  plain_port, enc_port and (" --encrypted-port " .. enc_port) or "",
  options.window and (" --window " .. options.window) or "",
  options.queue and (" --queue " .. options.queue) or "",
  options.grace and (" --grace " .. options.grace) or "", log)
local clients_proc = io.popen(command .. "; echo EXIT $?", "r")

local links, by_object = {}, {}
local connected = 0
local why, took = run_traffic(by_object, links, grace, function(e)
  if e.Event == network.EVENT_CONNECT then
    connected = connected + 1
    local c = e.Object
    -- Which server accepted it shows on the first Send: the other one says "not open on
    -- this server".
    local server
    local link
    link = new_link(c, function(t)
      if not server then
        local n, problem = plain_server:Send(t, c)
        if n == 1 then server = plain_server; return true end
        if not (enc_server and tostring(problem):find("not open on this server", 1, true)) then
          return false, problem
        end
        server = enc_server
        link.encrypted = true
      end
      local n, problem = server:Send(t, c)
      return n == 1, problem
    end, "connection " .. connected, false)
    links[#links + 1], by_object[c] = link, link
    return nil
  elseif e.Event == network.EVENT_CLIENT_CLOSE then
    local link = by_object[e.Object]
    if link and link.bye_sent then link.closed = true; return nil end
    return string.format("%s closed early (%s): sent %d (done %s), received %d of %s",
      link and link.label or "?", tostring(e.Errors), link and link.sent or -1,
      tostring(link and link.done_sent), link and link.received or -1, tostring(link and link.peer_total))
  end
  return "unexpected event " .. tostring(e.Event) .. " " .. tostring(e.Errors)
end)
-- The server may finish before every client connected only if none connected: require all.
if not why and connected ~= connections then why = connected .. " of " .. connections .. " clients connected" end
-- Said at once: with the servers no longer polled, the clients run on to their own deadline
-- (SECONDS + grace), and whoever runs this may kill it before then.
local said = why
if why then out("SOAK FAILED: " .. why) end
local status = clients_proc:read("a")
clients_proc:close()
local f = io.open(log)
local clients_out = f and f:read("a") or ""
if f then f:close() end
os.remove(log)
io.stdout:write(clients_out)
if not why and not clients_out:find("CLIENTS PASSED", 1, true) then why = "clients process: " .. status end
if not why then
  local line, dropped = summary("servers", links, took)
  out(line)
  if dropped > 0 and mode == "drop" then why = "servers dropped events" end
end
if why then
  if why ~= said then out("SOAK FAILED: " .. why) end
  os.exit(1)
end
out("SOAK PASSED")
os.exit(0)
