-- An mmnet server for tests/interop/independent_peer.py: prints "PORT n", then runs the
-- commands its peers send (common.lua) and reports every event to the connections that asked
-- with {cmd = "monitor"}. Usage: lua5.4 server.lua [seconds] [settings as Lua table literal]
-- [key]; with a key, a second, encrypted server listens too ("TLSPORT n").
--
-- Thread: the lua5.4 process's only thread.

local network = require "mmnet"
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local common = dofile(dir .. "/common.lua")

local limit = tonumber(arg[1]) or 60
if arg[2] then network.Configure(load("return " .. arg[2])()) end
local server = assert(network.Server("127.0.0.1", 0))
local tls_server = arg[3] and assert(network.Server("127.0.0.1", 0, arg[3]))
io.stdout:write("PORT ", server:GetPort(), "\n")
if tls_server then io.stdout:write("TLSPORT ", tls_server:GetPort(), "\n") end
io.stdout:flush()

local ids, monitors, next_id = {}, {}, 0
local function report(t)
  for c in pairs(monitors) do server:Send(t, c) end
end
local names = {}
for k, v in pairs(network) do if k:match("^EVENT_") then names[v] = k:sub(7):lower() end end

local deadline = os.time() + limit
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.05)) do
    local c = e.Object
    if e.Event == network.EVENT_CONNECT then
      next_id = next_id + 1
      ids[c] = next_id
    end
    local id = ids[c] or false
    if e.Event ~= network.EVENT_RECEIVE then
      report({ ev = names[e.Event], id = id, errors = e.Errors or false,
        server = (c == server or c == tls_server), t = e.Timestamp })
      if e.Event == network.EVENT_CLIENT_CLOSE then ids[c], monitors[c] = nil, nil end
    else
      local p = e.Packet
      local function send(t) return server:Send(t, c) end
      local quit = common.command(p, send, {
        stats = function() return c:GetStats() end,
        other = function(q)
          if q.cmd == "monitor" then
            monitors[c] = true
            send({ cmd = "monitoring", id = id })
          elseif q.cmd == "whoami" then
            send({ cmd = "you", id = id })
          elseif q.cmd == "disconnect" then
            server:Disconnect(c)
          elseif q.cmd == "count" then
            send({ cmd = "count", n = server:ConnectionCount() })
          else
            report({ ev = "receive", id = id, seq = q.seq or false, cmd = q.cmd or false })
          end
        end,
      })
      if quit then deadline = 0 end
    end
  end
end
io.stdout:write("SERVER DONE\n")
