-- The script examples/host_loop.c runs: a server and a client in the host's Lua state exchange
-- five messages. The host calls Frame() from its loop; Frame pumps network.PollEvents()
-- without a timeout (the host does the waiting) and returns false when the exchange is done.
--
-- Thread: the host's thread that owns this Lua state.
network = require "mmnet"   -- a global: the host reads network.GetEventDescriptor from C

local server = assert(network.Server("127.0.0.1", 0))
local client = assert(network.Client("127.0.0.1", server:GetPort()))
local connections, answers = {}, 0

function Frame()
  for _, e in ipairs(network.PollEvents()) do   -- never blocks: the host's loop waits
    if e.Event == network.EVENT_CONNECT then
      connections[#connections + 1] = e.Object
    elseif e.Event == network.EVENT_CONNECTED then
      print("script: client connected: " .. tostring(e.Result))
      client:Send({ N = 1 })
    elseif e.Event == network.EVENT_RECEIVE and e.Object ~= client then
      server:Send({ N = e.Packet.N, Square = e.Packet.N * e.Packet.N }, e.Object)
    elseif e.Event == network.EVENT_RECEIVE then
      answers = answers + 1
      print(("script: %d squared is %d"):format(e.Packet.N, e.Packet.Square))
      if answers < 5 then client:Send({ N = e.Packet.N + 1 }) end
    elseif e.Event == network.EVENT_ERROR then
      error(e.Errors)
    end
  end
  io.stdout:flush()
  return answers < 5
end
