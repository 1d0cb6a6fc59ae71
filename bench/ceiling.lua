-- bench/ceiling.lua: the ceiling of any Lua receiver in `make bench`: bare Lua building the
-- same event tables PollEvents returns ({Event =, Timestamp =, Object =, Packet = {OpCode =,
-- Data =, Seq =}}) in a loop and checking each sequence number, with no network at all.
--
-- Thread: single-threaded lua5.4 process.
--
-- Usage: lua5.4 bench/ceiling.lua COUNT      Prints msgs_per_s (best of 5 rounds).

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"

local count = assert(tonumber(arg[1]), "COUNT missing")
local object = setmetatable({}, {__name = "mmnet.ClientConnection"})
local now = common.now

-- One round: an array of events, as one PollEvents call returns up to 2000 of them, consumed
-- as the receivers consume them.
local function round()
  local expect = 1
  local t0 = now()
  while expect <= count do
    local events = {}
    local stamp = now()
    for i = 1, math.min(2000, count - expect + 1) do
      events[i] = {Event = 3, Timestamp = stamp, Object = object,
        Packet = {OpCode = 10, Data = "From client", Seq = expect + i - 1}}
    end
    for i = 1, #events do
      local e = events[i]
      if e.Event == 3 then
        if e.Packet.Seq ~= expect then error("out of order") end
        expect = expect + 1
      end
    end
  end
  return now() - t0
end

local best = math.huge
for _ = 1, 5 do best = math.min(best, round()) end
common.result("msgs_per_s", string.format("%.0f", count / best))
