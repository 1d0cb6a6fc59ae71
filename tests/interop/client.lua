-- mmnet clients for tests/interop/independent_peer.py: a control client connects to the
-- peer's server at the given port, and each {cmd = "new_client"} on it starts one more;
-- every event of every client is reported on the control link, and every client runs the
-- commands of common.lua. Usage: lua5.4 client.lua port [seconds] [settings literal]
--
-- Thread: the lua5.4 process's only thread.

local network = require "mmnet"
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local common = dofile(dir .. "/common.lua")

local port = assert(tonumber(arg[1]), "port expected")
local limit = tonumber(arg[2]) or 60
if arg[3] then network.Configure(load("return " .. arg[3])()) end

local names = {}
for k, v in pairs(network) do if k:match("^EVENT_") then names[v] = k:sub(7):lower() end end
local ids, clients, next_id = {}, {}, 0
local function new_client()
  next_id = next_id + 1
  local c = assert(network.Client("127.0.0.1", port))
  ids[c], clients[next_id] = next_id, c
  c:Send({ cmd = "iam", id = next_id })
  return c
end
local control = new_client()

local deadline = os.time() + limit
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.05)) do
    local c = e.Object
    local id = ids[c] or false
    if e.Event ~= network.EVENT_RECEIVE then
      if c ~= control then
        control:Send({ ev = names[e.Event], id = id, errors = e.Errors or false,
          result = e.Result == true, t = e.Timestamp })
      end
      if c == control and (e.Event == network.EVENT_SERVER_CLOSE or
          (e.Event == network.EVENT_CONNECTED and not e.Result)) then
        io.stdout:write("CONTROL ", names[e.Event], ": ", tostring(e.Errors), "\n")
        deadline = 0
      end
    else
      local p = e.Packet
      local function send(t) return c:Send(t) end
      local quit = common.command(p, send, {
        stats = function() return c:GetStats() end,
        other = function(q)
          if q.cmd == "new_client" then
            new_client()
          elseif q.cmd == "disconnect" then
            local victim = clients[q.id]
            control:Send({ cmd = "disconnected", id = q.id, was = victim and victim:Disconnect() })
          else
            control:Send({ ev = "receive", id = id, seq = q.seq or false, cmd = q.cmd or false })
          end
        end,
      })
      if quit then deadline = 0 end
    end
  end
end
io.stdout:write("CLIENT DONE\n")
