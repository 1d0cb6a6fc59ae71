-- bench/codec.lua: speed of network.Encode/Decode against lua-cjson, bare Lua table building
-- and string.rep, all measured in the same run (`make bench-codec`). Prints figures; asserts
-- nothing (not a timed test).
--
-- Thread: Lua thread only (a plain lua5.4 script).
--
-- Usage: lua5.4 bench/codec.lua [iterations]   (default 1000000 for the small table)

assert(_VERSION == "Lua 5.4", "run with lua5.4, not " .. _VERSION)
local network = require "mmnet"
local ok, cjson = pcall(require, "cjson")
if not ok then cjson = nil end

local N = tonumber(arg and arg[1]) or 1000000
local clock = os.clock
local encode, decode = network.Encode, network.Decode

-- Runs f(n) a few times and keeps the fastest time (seconds).
local function best(f, n, rounds)
  local t = math.huge
  for _ = 1, rounds or 3 do
    collectgarbage("collect")
    local t0 = clock()
    f(n)
    local dt = clock() - t0
    if dt < t then t = dt end
  end
  return t
end

local sink

local function bare(n)
  for i = 1, n do sink = {OpCode = 10, Data = "From server", Seq = i} end
end

local function mmnet_roundtrip(n)
  for i = 1, n do sink = decode(encode({OpCode = 10, Data = "From server", Seq = i})) end
end

local function mmnet_encode(n)
  for i = 1, n do sink = encode({OpCode = 10, Data = "From server", Seq = i}) end
end

local function cjson_roundtrip(n)
  local enc, dec = cjson.encode, cjson.decode
  for i = 1, n do sink = dec(enc({OpCode = 10, Data = "From server", Seq = i})) end
end

-- Sanity: the round trip really round-trips.
local back = decode(encode({OpCode = 10, Data = "From server", Seq = 7}))
assert(back.OpCode == 10 and back.Data == "From server" and back.Seq == 7)

local t_bare = best(bare, N)
local t_mm = best(mmnet_roundtrip, N)
local t_enc = best(mmnet_encode, N)
print(string.format("small table, %d iterations (best of 3)", N))
print(string.format("  bare Lua table building     %8.3f s  %6.0f ns/op", t_bare, t_bare / N * 1e9))
print(string.format("  mmnet encode only           %8.3f s  %6.0f ns/op", t_enc, t_enc / N * 1e9))
print(string.format("  mmnet encode+decode         %8.3f s  %6.0f ns/op", t_mm, t_mm / N * 1e9))
if cjson then
  local t_cj = best(cjson_roundtrip, N)
  print(string.format("  cjson encode+decode         %8.3f s  %6.0f ns/op", t_cj, t_cj / N * 1e9))
  print(string.format("  mmnet is %.2fx as fast as cjson (goal >= 3x)", t_cj / t_mm))
else
  print("  lua-cjson not installed: no comparison")
end
print(string.format("  mmnet takes %.2fx the time of bare Lua (goal <= 3x)", t_mm / t_bare))

-- 1 MiB string payload.
local MiB = 1024 * 1024
local R = math.max(1, N // 2000)
local payload = {Data = string.rep("x", MiB)}
local encoded = encode(payload)
local function rep(n) for _ = 1, n do sink = string.rep("y", MiB) end end
local function enc_big(n) for _ = 1, n do sink = encode(payload) end end
local function dec_big(n) for _ = 1, n do sink = decode(encoded) end end
local t_rep, t_ebig, t_dbig = best(rep, R), best(enc_big, R), best(dec_big, R)
print(string.format("1 MiB string payload, %d iterations (best of 3)", R))
print(string.format("  string.rep 1 MiB            %8.3f s  %6.1f us/op", t_rep, t_rep / R * 1e6))
print(string.format("  mmnet encode                %8.3f s  %6.1f us/op  (%.2fx string.rep speed, goal >= 0.25)",
  t_ebig, t_ebig / R * 1e6, t_rep / t_ebig))
print(string.format("  mmnet decode                %8.3f s  %6.1f us/op  (%.2fx string.rep speed, goal >= 0.25)",
  t_dbig, t_dbig / R * 1e6, t_rep / t_dbig))
