-- Run by the C test host (tests/host/host.c) with --memory-limit, for memory_spec: each mmnet
-- call below is made to run out of memory at each of its allocations in turn (the cap set a
-- little above what the state uses, then a little higher, until the call succeeds), and after
-- every failure what it had made must be gone or still whole:
-- - opening mmnet: a retry opens it whole;
-- - network.Server: the port is free again (no listener the script cannot close);
-- - network.Client: the connection it opened is closed (no client the script cannot close);
-- - PollEvents with an EVENT_CONNECT queued: the new connection stays open, and once the call
--   succeeds it delivers the event and carries a message;
-- - the other calls, those that return a refusal and one that raises on a bad argument: the
--   state goes on working.
-- memory_spec runs it under valgrind: nothing may leak either.
--
-- Prints one "<call>: N failures" line per call and "SWEPT" at the end; raises otherwise (the
-- host then exits 1).
-- Thread: the host's thread of this state.
local socket = require "socket"
local network

--- Calls `call` with the cap at what the state uses plus 0, 8, 16, ... bytes until it
-- succeeds; after each failure, which must be Lua's memory error, calls `check`.
local function sweep(name, call, check)
  local failures = 0
  for slack = 0, 65536, 8 do
    collectgarbage()
    collectgarbage()
    SET_MEMORY_LIMIT(MEMORY_USED() + slack)
    local ok, why = pcall(call)
    SET_MEMORY_LIMIT(MEMORY_LIMIT)
    if ok then
      print(name .. ": " .. failures .. " failures")
      return
    end
    assert(why == "not enough memory", name .. " failed otherwise: " .. tostring(why))
    failures = failures + 1
    if check then check() end
  end
  error(name .. " did not succeed with 64 KiB more")
end

-- Opening mmnet (the first use of mmnet in this state: what `require` calls), tried again
-- after each failure as a script retrying `require` does: the module must then work. A retry
-- found the binding of a try cut short and no identity table (a crash at the first
-- network.Server), and the tries cut short leaked their hold on the I/O thread, never joined
-- (valgrind: their bindings lost).
local open = assert(package.loadlib(assert(package.searchpath("mmnet.core", package.cpath)), "luaopen_mmnet_core"))
sweep("open", function() network = open() end)

--- Polls for a while (the I/O thread carries out closes meanwhile).
local function settle()
  for _ = 1, 5 do network.PollEvents(0.01) end
end

-- network.Server on a port just freed: after each failure the port must be free again.
local port
do
  local server = assert(network.Server("127.0.0.1", 0))
  port = server:GetPort()
  server:Disconnect()
  settle()
end
local made
sweep("Server", function() made = assert(network.Server("127.0.0.1", port)) end, function()
  settle()
  local server, why = network.Server("127.0.0.1", port)
  assert(server, "the port is still held after a failed Server: " .. tostring(why))
  server:Disconnect()
  settle()
end)
made:Disconnect()
made = nil
settle()

-- network.Client to a plain TCP listener that keeps every connection it accepts: after each
-- failure, the connection the failed call opened, if it got that far, must be closed by mmnet
-- (within 2 s; the hello timeout, which would close it too, is 5 s).
local listener = assert(socket.bind("127.0.0.1", 0))
listener:settimeout(0)
local listen_port = math.tointeger(tonumber((select(2, listener:getsockname()))))
local accepted = {}
sweep("Client", function() made = assert(network.Client("127.0.0.1", listen_port)) end, function()
  local start = socket.gettime()
  while true do
    network.PollEvents(0.01)
    local peer = listener:accept()
    if peer then accepted[#accepted + 1] = peer end
    local open = 0
    for _, c in ipairs(accepted) do
      c:settimeout(0)
      local _, err = c:receive("*a")
      if err ~= "closed" then open = open + 1 end
    end
    local waited = socket.gettime() - start
    if open == 0 and (#accepted > 0 or waited > 0.2) then break end
    assert(waited < 2, "a failed Client left its connection open")
  end
  for _, c in ipairs(accepted) do c:close() end
  accepted = {}
end)
made:Disconnect()
made = nil
settle()
listener:close()

-- PollEvents with an EVENT_CONNECT queued: the connection must survive the failures.
local server = assert(network.Server("127.0.0.1", 0))
local client = assert(network.Client("127.0.0.1", server:GetPort()))
assert(client:WaitForConnect(5))
local deadline = socket.gettime() + 5
while network.GetStats().EventsQueued < 2 do
  assert(socket.gettime() < deadline, "the connect events did not come")
  socket.sleep(0.01)
end
local events
sweep("PollEvents", function() events = network.PollEvents(0) end)
local connection
for _, e in ipairs(events) do
  if e.Event == network.EVENT_CONNECT then connection = e.Object end
  assert(e.Event ~= network.EVENT_SERVER_CLOSE and e.Event ~= network.EVENT_CLIENT_CLOSE, "the connection was closed")
end
assert(connection, "no EVENT_CONNECT")
events = nil
collectgarbage()
assert(server:Send({ hello = 1 }, connection) == 1)
local got
deadline = socket.gettime() + 5
repeat
  for _, e in ipairs(network.PollEvents(0.02)) do
    assert(e.Event ~= network.EVENT_SERVER_CLOSE, "the connection was closed")
    if e.Event == network.EVENT_RECEIVE and e.Object == client then got = e.Packet.hello end
  end
until got or socket.gettime() > deadline
assert(got == 1, "the message did not arrive")

-- The calls that make no object: the state must go on working after each failure.
local packet = { OpCode = 10, Data = "From client", Seq = 1, List = { 1, 2.5, "three", { four = true } } }
local encoded = network.Encode(packet)
sweep("Send", function() assert(client:Send(packet)) end)
sweep("Encode", function() assert(network.Encode(packet)) end)
sweep("Decode", function() assert(network.Decode(encoded)) end)
sweep("GetStats", function() assert(network.GetStats()) end)
sweep("connection GetStats", function() assert(client:GetStats()) end)
sweep("GetAddress", function() assert(client:GetAddress()) end)
sweep("a refused Send", function() assert(select(2, client:Send({ f = print })):find("function")) end)
sweep("Server with a bad port", function() assert(select(2, network.Server("127.0.0.1", 1))) end)
sweep("server:Send", function() assert(server:Send(packet, connection) == 1) end)
sweep("Broadcast", function() assert(server:Broadcast(packet) == 1) end)
sweep("Configure", function() assert(network.Configure({ MaxDepth = 64 }).MaxDepth == 64) end)
sweep("WaitForConnect", function() assert(client:WaitForConnect(1)) end)
sweep("GetEventDescriptor", function() assert(network.GetEventDescriptor()) end)
sweep("server GetAddress", function() assert(server:GetAddress()) end)
sweep("a bad argument", function() assert(not pcall(network.PollEvents, "soon")) end)
sweep("server GetStats", function() assert(server:GetStats()) end)
sweep("GetSocket, GetPort, ConnectionCount", function()
  assert(client:GetSocket() and client:GetPort() and server:GetPort() and server:ConnectionCount() == 1)
end)
sweep("a refused Encode", function() assert(select(2, network.Encode({ list = { 1, print } })):find("list", 1, true)) end)
sweep("a refused Decode", function() assert(select(2, network.Decode("\xc1"))) end)
assert(network.Decode(network.Encode(packet)).List[4].four == true)

sweep("Disconnect", function() assert(client:Disconnect()) end)
sweep("server Disconnect", function() assert(server:Disconnect()) end)
settle()
print("SWEPT")
