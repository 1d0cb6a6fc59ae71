-- A peer process for the specs: COUNT clients of 127.0.0.1:PORT, in this one process, that
-- take every event until all of them are closed (at most 60 s); prints "CONNECTED" once all
-- are connected.
--
--   lua5.4 clients.lua PORT COUNT
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local port, count = assert(tonumber(arg[1]), "port"), assert(tonumber(arg[2]), "count")
local clients = {}
for i = 1, count do clients[i] = assert(network.Client("127.0.0.1", port)) end
for i = 1, count do assert(clients[i]:WaitForConnect(10)) end
print("CONNECTED")
io.stdout:flush()
local open = count
local deadline = socket.gettime() + 60
while open > 0 and socket.gettime() < deadline do
  for _, e in ipairs(network.PollEvents(0.1)) do
    if e.Event == network.EVENT_SERVER_CLOSE then open = open - 1 end
  end
end
os.exit(0, true)
