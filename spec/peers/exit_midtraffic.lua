-- A peer process for closing_drain_spec: both ends of an encrypted link in one state, messages
-- of 200 KB queued both ways for 0.3 s, then os.exit(0, true). lua_close then closes both
-- sides at once, each flushing its queue into the other, which drops what it reads.
--
--   lua5.4 exit_midtraffic.lua
--
-- Prints "EXITING" just before os.exit; exits 0.
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local key = "0C03EA65238DD2C25EB87CE563868098"
local server = assert(network.Server("127.0.0.1", 0, key))
local client = assert(network.Client("127.0.0.1", server:GetPort(), key))
assert(client:WaitForConnect(5))
local big = { string.rep("q", 200000) }
local connection  -- held, so that the garbage collector does not close it first
local start = socket.gettime()
while socket.gettime() - start < 0.3 do
  client:Send(big)
  server:Broadcast(big)
  for _, e in ipairs(network.PollEvents(0)) do
    if e.Event == network.EVENT_CONNECT then connection = e.Object end
  end
end
assert(connection, "no EVENT_CONNECT")
print("EXITING")
io.stdout:flush()
os.exit(0, true)
