-- Run by the C test host (tests/host/host.c) with --memory-limit, for memory_spec: one state
-- fills its memory to the last few bytes, then sends itself 40 messages of 100 KiB strings.
-- Such strings are lent to the send queue, and keeping each reachable for its loan stores it
-- in a table that must grow now and then: with no memory for that, Send copies the string
-- instead of raising "not enough memory" (and leaving a loan nobody returns). Every message
-- must then arrive intact.
--
-- The cap must leave room, once the ballast is gone, for the 40 strings received as well as the
-- 40 sent (4 MiB each): one PollEvents may return all 40 at once. memory_spec gives it 16 MB.
--
-- Prints "SENT 40" and then "RECEIVED 40" when all went as it should; raises otherwise (the
-- host then exits 1). Everything is time-limited (10 s in all).
-- Thread: the host's thread of this state.
local network = require "mmnet"

-- (The server is kept in a local: collected, it would close.)
local server, client, before_deadline = require("capped_pair").open(10) -- luacheck: ignore server

-- Everything the sends need is made first: once memory is full, no garbage may free room.
local COUNT, SIZE = 40, 100 * 1024
local messages, results = {}, {}
for n = 1, COUNT do
  messages[n] = { n = n, Data = string.rep(string.char(64 + n), SIZE) }
  results[n] = false
end
local send, pcall = client.Send, pcall
collectgarbage()

-- Live ballast, in ever smaller pieces, until not even 16 more bytes fit.
local ballast, pieces = nil, 0
local function add(size)
  ballast = { ballast, string.rep("b", size) .. pieces }
  pieces = pieces + 1
end
for _, size in ipairs({ 4096, 256, 16 }) do
  while pcall(add, size) do end
end

for n = 1, COUNT do
  local _, sent = pcall(send, client, messages[n])  -- true, false or a raised error
  results[n] = sent
end
ballast = nil
collectgarbage()
local sent = 0
for n = 1, COUNT do
  if results[n] == true then sent = sent + 1 else print("Send " .. n .. ": " .. tostring(results[n])) end
end
print("SENT " .. sent)

local got = 0
while got < sent and before_deadline("the messages") do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_RECEIVE then
      assert(e.Packet.Data == messages[e.Packet.n].Data, "message " .. tostring(e.Packet.n) .. " damaged")
      got = got + 1
    end
  end
end
print("RECEIVED " .. got)
io.stdout:flush()
