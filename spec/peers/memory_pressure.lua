-- Run by the C test host (tests/host/host.c) with --memory-limit, for memory_spec: one state
-- sends itself three messages of 2 MiB and a small fourth, fills its memory until no two of
-- the three can be Lua strings at once, and calls PollEvents until it has all four: each call
-- must return what fits, in order, and raise nothing.
--
-- With MMNET_WAIT_ON_DESCRIPTOR=1 in the environment it sleeps on GetEventDescriptor before
-- each PollEvents(), as the host loop of docs/HOST.md does: the descriptor must wake it for the
-- messages an earlier call kept back, and GetStats().EventsQueued must count them.
--
-- Prints "RECEIVED 1,2,3,4 IN 3 OR MORE CALLS" when all went as it should; raises otherwise
-- (the host then exits 1). Everything is time-limited (10 s in all).
-- Thread: the host's thread of this state.
local network = require "mmnet"
local socket = require "socket"

local capped_pair = require "capped_pair"
local server, client, before_deadline = capped_pair.open(10)
local connection = capped_pair.connection(before_deadline) -- luacheck: ignore connection (held: collected, it would close)

local size = 2 * 1024 * 1024
for n = 1, 3 do assert(client:Send({ n = n, Data = string.rep(tostring(n), size) })) end
while server:GetStats().MessagesReceived < 3 and before_deadline("the messages") do socket.sleep(0.01) end
-- The three strings were lent to the send queue, not copied: the state keeps each until a
-- Send or PollEvents after its write hands it back. A fourth, small message hands them back
-- now, so that the collections below free them (otherwise PollEvents frees them, and its three
-- new strings fit in what they leave).
assert(client:Send({ n = 4 }))
while server:GetStats().MessagesReceived < 4 and before_deadline("the fourth message") do socket.sleep(0.01) end

-- Live ballast (garbage collected at each step, so that what is counted is held) until less
-- than two of the three 2 MiB strings fit.
local ballast, target = {}, MEMORY_LIMIT - 3 * 1024 * 1024
repeat
  ballast[#ballast + 1] = string.rep("b", 65536) .. #ballast
  if MEMORY_USED() >= target then collectgarbage() end
until MEMORY_USED() >= target

-- Each PollEvents returns the messages that fit, the first of them at least, and no error;
-- the rest wait for the next call, which gets them once the script has let go of the earlier
-- ones (the ballast stays).
local by_descriptor = os.getenv("MMNET_WAIT_ON_DESCRIPTOR") == "1"
local fd = by_descriptor and assert(network.GetEventDescriptor())
local got, calls = {}, 0
while #got < 4 and before_deadline("the messages") do
  if by_descriptor then
    local queued = network.GetStats().EventsQueued
    assert(queued == 4 - #got, "EventsQueued " .. queued .. " with " .. #got .. " of 4 messages taken")
    assert(HOST.readable(fd, 3), "no wake-up for 3 s with " .. #got .. " of 4 messages taken")
  end
  local events = network.PollEvents(by_descriptor and 0 or 0.05)
  if #events > 0 then calls = calls + 1 end
  for _, e in ipairs(events) do
    assert(e.Event == network.EVENT_RECEIVE, "event " .. e.Event)
    local n = e.Packet.n
    assert(n == 4 or #e.Packet.Data == size and e.Packet.Data:sub(1, 1) == tostring(n), "message damaged")
    got[#got + 1] = n
  end
  events = nil
end
assert(#ballast > 0)
if by_descriptor then assert(not HOST.readable(fd, 0), "the descriptor is readable with no event queued") end
print("RECEIVED " .. table.concat(got, ",") .. " IN " .. (calls >= 3 and "3 OR MORE" or calls) .. " CALLS")
io.stdout:flush()
