-- Run by the C test host (tests/host/host.c) with --memory-limit, for memory_spec: a client
-- sends the state's own server a message of 2 MiB, then a small one, into a state filled until
-- less than 1 MiB is free. The large message can never be made into a Lua string there: it
-- must come as an EVENT_ERROR of its connection, followed by the connection's close event
-- (the small messages after it are not delivered, as after a malformed message from the
-- wire), and it counts in MessagesRefused. PollEvents raises nothing, and
-- once the script lets go of its memory the server serves a new client.
--
-- Prints "ERROR not enough memory in this Lua state for a message of N bytes", "CLOSED"
-- (with the same reason), "REFUSED 1" and "SERVED" when all went as it should; raises otherwise (the host then exits 1). Everything is time-limited (10 s in all).
-- Thread: the host's thread of this state.
local network = require "mmnet"
local socket = require "socket"

local capped_pair = require "capped_pair"
local server, client, before_deadline = capped_pair.open(10)
local connection = capped_pair.connection(before_deadline)

assert(client:Send({ Data = string.rep("x", 2 * 1024 * 1024) }))
assert(client:Send({ Data = "small" }))
while server:GetStats().MessagesReceived < 2 and before_deadline("the messages") do socket.sleep(0.01) end
-- The 2 MiB string was lent to the send queue, not copied; now that it is written, a third
-- message hands it back, so that the collections below free it.
assert(client:Send({ Data = "third" }))
while server:GetStats().MessagesReceived < 3 and before_deadline("the third message") do socket.sleep(0.01) end

local ballast, target = {}, MEMORY_LIMIT - 1024 * 1024
repeat
  ballast[#ballast + 1] = string.rep("b", 65536) .. #ballast
  if MEMORY_USED() >= target then collectgarbage() end
until MEMORY_USED() >= target

local closed
while not closed and before_deadline("the close event") do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Object == connection then
      if e.Event == network.EVENT_ERROR then
        print("ERROR " .. e.Errors)
      elseif e.Event == network.EVENT_RECEIVE then
        print("RECEIVED " .. e.Packet.Data:sub(1, 5))
      elseif e.Event == network.EVENT_CLIENT_CLOSE then
        print("CLOSED " .. e.Errors)
        closed = true
      end
    end
  end
end
print("REFUSED " .. network.GetStats().MessagesRefused)
ballast = nil
collectgarbage()

local again = assert(network.Client("127.0.0.1", server:GetPort()))
assert(again:WaitForConnect(5))
assert(again:Send({ Data = string.rep("y", 2 * 1024 * 1024) }))
local served
while not served and before_deadline("the new client's message") do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_RECEIVE and e.Object ~= connection and #e.Packet.Data == 2 * 1024 * 1024 then
      served = true
    end
  end
end
print("SERVED")
io.stdout:flush()
