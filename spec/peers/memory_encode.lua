-- Run by the C test host (tests/host/host.c) with --memory-limit, for memory_spec: one state
-- fills its memory, then encodes a table holding a 1 MiB string: making the result raises
-- Lua's "not enough memory", and the encoder's 1 MiB buffer must not leak for it (memory_spec
-- runs this under valgrind). Once memory is back, Encode works again.
--
-- Prints "FAILED not enough memory" and then "ENCODED" when all went as it should; raises
-- otherwise (the host then exits 1).
-- Thread: the host's thread of this state.
local network = require "mmnet"

local payload = { Data = string.rep("x", 1024 * 1024) }
local encode, pcall = network.Encode, pcall
collectgarbage()

-- Live ballast until less than 64 KiB more fit.
local ballast, pieces = nil, 0
local function add()
  ballast = { ballast, string.rep("b", 65536) .. pieces }
  pieces = pieces + 1
end
while pcall(add) do end

for _ = 1, 3 do
  local ok, why = pcall(encode, payload)
  assert(not ok, "Encode made a 1 MiB string within 64 KiB")
  print("FAILED " .. tostring(why))
end
ballast = nil
collectgarbage()
assert(network.Decode(assert(encode(payload))).Data == payload.Data, "round trip")
print("ENCODED")
