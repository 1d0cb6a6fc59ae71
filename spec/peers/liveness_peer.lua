-- A peer process for the liveness specs (run inside a network namespace): one side of a
-- connection that exchanges a few messages, then waits for the connection to close by itself
-- and says when and why.
--
--   lua5.4 liveness_peer.lua server ADDR PORT PING_INTERVAL PEER_TIMEOUT [KEY]
--   lua5.4 liveness_peer.lua client ADDR PORT PING_INTERVAL PEER_TIMEOUT [KEY]
--
-- With KEY (32 hex digits) the connection is encrypted.
-- The server listens on ADDR:PORT and prints "LISTENING"; it echoes every message. The client
-- connects, sends { n = 1 } .. { n = 3 } and checks the echoes. Each side prints "EXCHANGED"
-- once the three messages went both ways, "ERROR <text>" for any EVENT_ERROR, and on the
-- close event "CLOSED <its Timestamp (wall clock)> <Errors>" (then exits 0). Exit status 1 on any
-- failure; everything is time-limited (30 s in all).
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local role, addr, key = arg[1], arg[2], arg[6]
local port = assert(tonumber(arg[3]), "port")
network.Configure({ PingInterval = assert(tonumber(arg[4])), PeerTimeout = assert(tonumber(arg[5])) })

local function say(...)
  print(...)
  io.stdout:flush()
end

local function fail(why)
  io.stderr:write("liveness_peer ", role, ": ", tostring(why), "\n")
  os.exit(1)
end

local object, why
if role == "server" then
  object, why = network.Server(addr, port, key)
  if not object then fail(why) end
  say("LISTENING")
else
  object, why = network.Client(addr, port, key)
  if not object then fail(why) end
  local ok, _, reason = object:WaitForConnect(5)
  if not ok then fail(reason) end
  for n = 1, 3 do
    local sent, problem = object:Send({ n = n })
    if not sent then fail(problem) end
  end
end

local closeKind = role == "server" and network.EVENT_CLIENT_CLOSE or network.EVENT_SERVER_CLOSE
local echoed = 0
local deadline = socket.gettime() + 30
while socket.gettime() < deadline do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_RECEIVE then
      if role == "server" then object:Send(e.Packet, e.Object) end
      echoed = echoed + 1
      if echoed == 3 then say("EXCHANGED") end
    elseif e.Event == network.EVENT_ERROR then
      say("ERROR " .. tostring(e.Errors))
    elseif e.Event == closeKind then
      say(("CLOSED %.3f %s"):format(e.Timestamp, tostring(e.Errors)))
      os.exit(0)
    end
  end
end
fail("no close event within 30 s")
