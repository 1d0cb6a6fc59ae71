-- Example: a chat server. Every line a client sends is relayed to everyone with Broadcast.
-- It starts the chat once EXPECTED clients have joined, announces "all done" once each has
-- said goodbye, and exits when they have all left (or after 20 s at most).
--
--   lua5.4 examples/chat_server.lua [PORTFILE] [EXPECTED]
--
-- PORTFILE: where to write the port the OS chose (for the clients); EXPECTED: clients to
-- wait for (default 2). Messages: {Name =, Text =} a chat line, {Bye = true} from a client
-- that has said everything; the server sends {System = "..."} announcements.
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local portfile, expected = arg[1], tonumber(arg[2]) or 2

local server, result = network.Server("127.0.0.1", 0)
if not server then error("cannot start the chat server: " .. result) end
print(("chat server: %s; waiting for %d clients"):format(result, expected))
if portfile then
  local f = assert(io.open(portfile, "w"))
  f:write(server:GetPort(), "\n")
  f:close()
end
io.stdout:flush()

local clients = {}      -- ClientConnection -> name; keeps them referenced (else they close)
local joined, byes, left = 0, 0, 0
local deadline = os.time() + 20

while os.time() < deadline do
  -- Wait up to 0.1 s for events: the loop sleeps in PollEvents, not in a busy loop.
  for _, e in ipairs(network.PollEvents(0.1)) do
    if e.Event == network.EVENT_CONNECT then
      clients[e.Object] = ("%s:%d"):format(e.Object:GetAddress(), e.Object:GetPort())
      joined = joined + 1
      print(("chat server: client %d connected from %s"):format(joined, clients[e.Object]))
      if joined == expected then
        print("chat server: everyone is here, starting the chat")
        server:Broadcast({ System = "start" })
      end
    elseif e.Event == network.EVENT_RECEIVE then
      local p = e.Packet
      if p.Bye then
        byes = byes + 1
        if byes == expected then
          print("chat server: everyone said goodbye")
          server:Broadcast({ System = "all done" })
        end
      elseif type(p.Name) == "string" and type(p.Text) == "string" then
        clients[e.Object] = p.Name
        local count = server:Broadcast({ Name = p.Name, Text = p.Text })
        print(("chat server: <%s> %s (relayed to %d)"):format(p.Name, p.Text, count))
      else
        print("chat server: ignoring a message that is not a chat line")
      end
    elseif e.Event == network.EVENT_CLIENT_CLOSE then
      print(("chat server: %s left (%s)"):format(clients[e.Object] or "?", e.Errors or ""))
      clients[e.Object] = nil
      left = left + 1
    elseif e.Event == network.EVENT_ERROR then
      print("chat server: error: " .. tostring(e.Errors))
    end
  end
  io.stdout:flush()
  if left == expected then
    print("chat server: done")
    os.exit(0, true)  -- true: close the Lua state, so mmnet shuts down cleanly
  end
end
print("chat server: gave up after 20 s")
os.exit(1)
