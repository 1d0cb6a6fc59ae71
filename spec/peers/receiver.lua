-- A peer process for the specs: a client that connects to 127.0.0.1:PORT and receives
-- messages { seq = i } until the server closes the connection, checking that they come in
-- order with none missing; then prints "DONE received=N ok=true|false [first problem]".
--
--   lua5.4 receiver.lua PORT [MODE] [KEY]
--     MODE normal   poll all the time (the default), QueueFull = "wait"
--          noread   QueueFull = "wait", EventQueueSize = 10 and never poll: the server's
--                   messages pile up (in this process's ring, then TCP, then the server's
--                   send queue); sleeps 30 s and exits
--     KEY   32 or 64 hex digits ("" or absent: none): the connection is encrypted
--
-- Prints "CONNECTED" once connected. Exit status 0 after DONE; 1 on any failure; every wait
-- is time-limited (60 s in all).
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local port = assert(tonumber(arg[1]), "port")
local mode = arg[2] or "normal"
local key = arg[3] ~= "" and arg[3] or nil

local function fail(why)
  io.stderr:write("receiver: ", tostring(why), "\n")
  os.exit(1)
end

-- Lossless in both modes: a sender faster than this process must be slowed down by TCP, not
-- overflow the event queue (which would be reported, and fail the run).
network.Configure({ QueueFull = "wait", EventQueueSize = mode == "noread" and 10 or 2000 })
local client, why = network.Client("127.0.0.1", port, key)
if not client then fail(why) end
local ok, _, reason = client:WaitForConnect(5)
if not ok then fail(reason) end
print("CONNECTED")
io.stdout:flush()

if mode == "noread" then
  os.execute("sleep 30")
  os.exit(0)
end

local received, expected, problem = 0, 1, nil
local deadline = os.time() + 60
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.1)) do
    if e.Event == network.EVENT_RECEIVE then
      received = received + 1
      if e.Packet.seq ~= expected and not problem then
        problem = "expected seq " .. expected .. ", got " .. tostring(e.Packet.seq)
      end
      expected = (e.Packet.seq or expected) + 1
    elseif e.Event == network.EVENT_SERVER_CLOSE then
      print(("DONE received=%d ok=%s%s"):format(received, tostring(problem == nil),
        problem and (" " .. problem) or ""))
      io.stdout:flush()
      os.exit(0)
    elseif e.Event == network.EVENT_ERROR then
      fail("EVENT_ERROR: " .. tostring(e.Errors))
    end
  end
end
fail("no EVENT_SERVER_CLOSE within 60 s (received " .. received .. ")")
