-- Example: a chat client for examples/chat_server.lua. It joins, waits for the server to start
-- the chat, sends its lines, prints every line it receives, says goodbye, and leaves when the
-- server announces that everyone is done (or after 20 s at most).
--
--   lua5.4 examples/chat_client.lua PORT NAME [LINE...]
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local port, name = tonumber(arg[1]), arg[2]
if not port or not name then
  io.stderr:write("usage: chat_client.lua PORT NAME [LINE...]\n")
  os.exit(2)
end
local lines = { table.unpack(arg, 3) }
if #lines == 0 then lines = { "hello from " .. name } end

local client, result = network.Client("127.0.0.1", port)
if not client then error("cannot connect: " .. result) end
-- WaitForConnect blocks (here up to 5 s) until the connection is made or has failed.
local ok, seconds, why = client:WaitForConnect(5)
if not ok then
  print(("%s: could not connect: %s"):format(name, why))
  os.exit(1)
end
print(("%s: connected to %s port %d in %.1f ms"):format(name, client:GetAddress(), client:GetPort(), seconds * 1000))
io.stdout:flush()

local deadline = os.time() + 20
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.1)) do
    if e.Event == network.EVENT_RECEIVE then
      local p = e.Packet
      if p.System == "start" then
        for _, line in ipairs(lines) do
          assert(client:Send({ Name = name, Text = line }))
        end
        client:Send({ Bye = true })
      elseif p.System == "all done" then
        print(name .. ": the server says all done; leaving")
        client:Disconnect()   -- flushes, then closes; no close event for a close we asked for
        os.exit(0, true)  -- true: close the Lua state, so mmnet shuts down cleanly
      elseif p.Name then
        print(("%s: <%s> %s"):format(name, p.Name, p.Text))
      end
    elseif e.Event == network.EVENT_SERVER_CLOSE then
      print(name .. ": the server closed the connection: " .. tostring(e.Errors))
      os.exit(1)
    elseif e.Event == network.EVENT_ERROR then
      print(name .. ": error: " .. tostring(e.Errors))
    end
  end
  io.stdout:flush()
end
print(name .. ": gave up after 20 s")
os.exit(1)
