-- A peer process for liveness_spec: a client that a stream of messages keeps busy (it is
-- stopped with SIGSTOP and woken while the stream goes on) and that sends a message of its own
-- after each poll, as a game client sends its input. QueueFull = "wait": it must lose nothing.
--
--   lua5.4 stopped_reader.lua PORT PING_INTERVAL PEER_TIMEOUT [KEY]
--
-- It connects to 127.0.0.1:PORT and prints "CONNECTED". Each message it gets must be { n = i }
-- with i = 1, 2, ... in order, until { stop = N }: it then prints "DONE <i> <N>" and exits 0.
-- It prints "ERROR <text>" for any EVENT_ERROR and "CLOSED <Errors>" for its close event (then
-- exits 1), "GAP <i> <n>" for a message out of order. Everything is time-limited (30 s).
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local port = assert(tonumber(arg[1]), "port")
network.Configure({ PingInterval = assert(tonumber(arg[2])), PeerTimeout = assert(tonumber(arg[3])), QueueFull = "wait" })

local function say(...)
  print(...)
  io.stdout:flush()
end

local client, why = network.Client("127.0.0.1", port, arg[4])
if not client then
  say("ERROR " .. tostring(why))
  os.exit(1)
end
local ok, _, reason = client:WaitForConnect(5)
if not ok then
  say("ERROR " .. tostring(reason))
  os.exit(1)
end
say("CONNECTED")

local last = 0
local deadline = socket.gettime() + 30
while socket.gettime() < deadline do
  for _, e in ipairs(network.PollEvents(0.02)) do
    if e.Event == network.EVENT_RECEIVE then
      if e.Packet.stop then
        say(("DONE %d %d"):format(last, e.Packet.stop))
        os.exit(0)
      end
      if e.Packet.n ~= last + 1 then say(("GAP %d %s"):format(last, tostring(e.Packet.n))) end
      last = e.Packet.n
    elseif e.Event == network.EVENT_ERROR then
      say("ERROR " .. tostring(e.Errors))
    elseif e.Event == network.EVENT_SERVER_CLOSE then
      say("CLOSED " .. tostring(e.Errors))
      os.exit(1)
    end
  end
  client:Send({ input = last })
end
say("ERROR no { stop } within 30 s")
os.exit(1)
