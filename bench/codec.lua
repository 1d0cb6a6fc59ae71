-- bench/codec.lua: speed of network.Encode/Decode against lua-cjson, bare Lua table building
-- and string.rep, all measured in the same run (`make bench-codec`). Prints figures; asserts
-- nothing about speed (not a timed test).
--
-- Thread: Lua thread only (a plain lua5.4 script).
--
-- Usage: lua5.4 bench/codec.lua [iterations [rounds]]   (defaults 200000 and 9)
-- CODEC_FLOOR=path/to/codec_floor.so (bench/codec_floor.c, built by `make bench-codec`) adds
-- the floor of any C codec: the same Lua API calls with nothing else around them.
-- The candidates run interleaved, round after round, and each keeps its fastest round, so a
-- busy machine slows them alike and noise is mostly filtered out.

assert(_VERSION == "Lua 5.4", "run with lua5.4, not " .. _VERSION)
local network = require "mmnet"
local has_cjson, cjson = pcall(require, "cjson")
local floor_path = os.getenv("CODEC_FLOOR")
local floor = floor_path and assert(package.loadlib(floor_path, "luaopen_codec_floor"))()

local N = tonumber(arg and arg[1]) or 200000
local ROUNDS = tonumber(arg and arg[2]) or 9
local clock = os.clock
local encode, decode = network.Encode, network.Decode
local sink

-- Each candidate: name, iterations, function(n).
local small = {
  {"bare Lua: build the table", N, function(n)
    for i = 1, n do sink = {OpCode = 10, Data = "From server", Seq = i} end
  end},
  {"mmnet: build + Encode", N, function(n)
    for i = 1, n do sink = encode({OpCode = 10, Data = "From server", Seq = i}) end
  end},
  {"mmnet: build + Encode + Decode", N, function(n)
    for i = 1, n do sink = decode(encode({OpCode = 10, Data = "From server", Seq = i})) end
  end},
}
if has_cjson then
  local enc, dec = cjson.encode, cjson.decode
  small[#small + 1] = {"cjson: build + encode + decode", N, function(n)
    for i = 1, n do sink = dec(enc({OpCode = 10, Data = "From server", Seq = i})) end
  end}
end
local FLOOR = #small + 1
if floor then
  local enc, dec = floor.encode, floor.decode
  small[FLOOR] = {"C floor: build + encode + decode", N, function(n)
    for i = 1, n do sink = dec(enc({OpCode = 10, Data = "From server", Seq = i})) end
  end}
  local t = {OpCode = 10, Data = "From server", Seq = 70000}
  assert(enc(t) == encode(t), "the floor writes the bytes mmnet writes")
end

local MiB = 1024 * 1024
local R = math.max(1, N // 1000)
local payload = {Data = string.rep("x", MiB)}
local encoded = encode(payload)
local big = {
  {"string.rep 1 MiB", R, function(n) for _ = 1, n do sink = string.rep("y", MiB) end end},
  {"mmnet: Encode {Data = <1 MiB>}", R, function(n) for _ = 1, n do sink = encode(payload) end end},
  {"mmnet: Decode of it", R, function(n) for _ = 1, n do sink = decode(encoded) end end},
}

-- Sanity: the round trips really round-trip.
local back = decode(encode({OpCode = 10, Data = "From server", Seq = 7}))
assert(back.OpCode == 10 and back.Data == "From server" and back.Seq == 7)
assert(decode(encoded).Data == payload.Data)

-- Runs the candidates interleaved for ROUNDS rounds; returns the best seconds per op of each.
local function run(candidates)
  local best = {}
  for _ = 1, ROUNDS do
    for i, c in ipairs(candidates) do
      collectgarbage("collect")
      local t0 = clock()
      c[3](c[2])
      local per_op = (clock() - t0) / c[2]
      if not best[i] or per_op < best[i] then best[i] = per_op end
    end
  end
  return best
end

local s = run(small)
print(string.format("small table {OpCode = 10, Data = \"From server\", Seq = i}: %d iterations, best of %d rounds", N, ROUNDS))
for i, c in ipairs(small) do print(string.format("  %-34s %7.0f ns/op", c[1], s[i] * 1e9)) end
print(string.format("  mmnet Encode+Decode alone (minus building)   %7.0f ns/op", (s[3] - s[1]) * 1e9))
if has_cjson then
  print(string.format("  cjson encode+decode alone (minus building)   %7.0f ns/op", (s[4] - s[1]) * 1e9))
  print(string.format("  speed vs cjson, with building: %.2fx   without: %.2fx   (goal >= 3x)",
    s[4] / s[3], (s[4] - s[1]) / (s[3] - s[1])))
else
  print("  lua-cjson not installed: no comparison")
end
print(string.format("  mmnet build+Encode+Decode / bare building: %.2fx   (aim <= 3x)", s[3] / s[1]))
if floor then
  print(string.format("  C floor encode+decode alone (minus building) %7.0f ns/op", (s[FLOOR] - s[1]) * 1e9))
  print(string.format("  mmnet Encode+Decode / C floor: %.2fx   (what mmnet's checks, UTF-8 and key cache cost)",
    (s[3] - s[1]) / (s[FLOOR] - s[1])))
  if has_cjson then
    print(string.format("  C floor vs cjson, with building: %.2fx   without: %.2fx   (the most any C codec reaches)",
      s[4] / s[FLOOR], (s[4] - s[1]) / (s[FLOOR] - s[1])))
  end
end

local b = run(big)
print(string.format("1 MiB string payload: %d iterations, best of %d rounds", R, ROUNDS))
for i, c in ipairs(big) do print(string.format("  %-34s %7.1f us/op", c[1], b[i] * 1e6)) end
print(string.format("  Encode speed / string.rep speed: %.2f   Decode: %.2f   (goal >= 0.25 each)",
  b[1] / b[2], b[1] / b[3]))
