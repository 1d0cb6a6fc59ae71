-- The demo's client (examples/demo.sh): connects to 127.0.0.1:PORT, sends a few tables,
-- prints what comes back, then disconnects.
--
--   lua5.4 examples/demo_client.lua PORT
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local names = {}
for _, name in ipairs { "EVENT_CONNECT", "EVENT_CONNECTED", "EVENT_RECEIVE",
    "EVENT_SERVER_CLOSE", "EVENT_CLIENT_CLOSE", "EVENT_ERROR" } do
  names[network[name]] = name
end

local port = assert(tonumber(arg[1]), "usage: demo_client.lua PORT")
local client = assert(network.Client("127.0.0.1", port))
local ok, seconds, why = client:WaitForConnect(5)
if not ok then print("client: could not connect: " .. tostring(why)); os.exit(1) end
print(("client: connected to %s port %d in %.4f s"):format(client:GetAddress(), client:GetPort(), seconds))

local messages = {
  { OpCode = 1, Data = "From client" },
  { OpCode = 2, Data = "A second table" },
  { OpCode = 3, Data = "Last one" },
}
for _, m in ipairs(messages) do assert(client:Send(m)) end

local replies = 0
local deadline = os.time() + 5
while replies < #messages + 1 and os.time() < deadline do  -- the greeting + one echo each
  for _, e in ipairs(network.PollEvents(0.1)) do
    print(("client: %s %s"):format(names[e.Event], e.Errors or ""))
    if e.Event == network.EVENT_RECEIVE then
      replies = replies + 1
      local p = e.Packet
      print(("client:   got %s"):format(p[1] or ("OpCode=" .. tostring(p.OpCode) .. " Data=" .. tostring(p.Data))))
    end
  end
end
client:Disconnect()
print(("client: %d replies, disconnected"):format(replies))
os.exit(replies == #messages + 1 and 0 or 1, true)  -- true: close the state, flushing what is queued
