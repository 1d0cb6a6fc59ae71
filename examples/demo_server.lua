-- The demo's server (examples/demo.sh): listens on 127.0.0.1 on a port the OS chooses, writes
-- the port to the file named by its first argument, answers each table a client sends, and
-- exits once its client has gone (or after 10 s at most).
--
--   lua5.4 examples/demo_server.lua PORTFILE
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local names = {}
for _, name in ipairs { "EVENT_CONNECT", "EVENT_CONNECTED", "EVENT_RECEIVE",
    "EVENT_SERVER_CLOSE", "EVENT_CLIENT_CLOSE", "EVENT_ERROR" } do
  names[network[name]] = name
end

local server = assert(network.Server("127.0.0.1", 0))
print(("server: listening on %s port %d"):format(server:GetAddress(), server:GetPort()))
local f = assert(io.open(assert(arg[1], "usage: demo_server.lua PORTFILE"), "w"))
f:write(server:GetPort(), "\n")
f:close()
io.stdout:flush()

local clients = {}  -- keep ClientConnections referenced, or they close when collected
local deadline = os.time() + 10
local served = 0
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.1)) do
    print(("server: %s %s"):format(names[e.Event], e.Errors or ""))
    if e.Event == network.EVENT_CONNECT then
      clients[e.Object] = true
      print(("server: client at %s port %d"):format(e.Object:GetAddress(), e.Object:GetPort()))
      server:Send({ "Hello Client" }, e.Object)
    elseif e.Event == network.EVENT_RECEIVE then
      local p = e.Packet
      print(("server:   got OpCode=%s Data=%s"):format(tostring(p.OpCode), tostring(p.Data)))
      server:Send({ OpCode = p.OpCode, Data = "echo: " .. tostring(p.Data) }, e.Object)
    elseif e.Event == network.EVENT_CLIENT_CLOSE then
      clients[e.Object] = nil
      served = served + 1
    end
  end
  io.stdout:flush()
  if served > 0 and next(clients) == nil then
    print("server: done")
    os.exit(0)
  end
end
print("server: no client within 10 s")
os.exit(1)
