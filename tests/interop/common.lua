-- The mmnet side of the interoperability test (tests/interop/independent_peer.py): the test
-- tables, a strict comparison, and the commands a peer may send. server.lua and client.lua
-- load it.
--
-- Thread: the lua5.4 process's only thread.

local network = require "mmnet"
local common = {}

local nan = 0.0 / 0.0
local big = {}
for i = 1, 200000 do big[i] = i * 7 - 100000 end
local big_string = string.rep("0123456789abcdef\0\255", 5 * 1024 * 1024 // 18)

--- The tables both sides know by name; the Python peer has the same names with the values
-- PROTOCOL.md says they take in MessagePack.
common.cases = {
  ints = { 0, 1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
    -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649,
    math.maxinteger, math.mininteger, (1 << 53) + 1 },
  floats = { 0.0, -0.0, 1.0, 1.5, 1 / 0, -1 / 0, nan, 2.0 ^ 53, 1e308, 5e-324, math.pi,
    2.0 ^ 63, -(2.0 ^ 63), 0.1 },
  strings = { "", "a\0b", "\0", "\255", "é", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80",
    "\xc0\xaf", "\xef\xbf\xbf", "\xf0\x9f\x98\x80", string.rep("x", 31), string.rep("x", 32),
    string.rep("y", 255), string.rep("y", 256), string.rep("z", 65535), string.rep("z", 65536),
    string.rep("\255", 300) },
  nested = { a = { b = { c = { d = {} } } }, list = { 1, 2, { 3, { 4, { "five" } } } }, e = {} },
  holes = { 1, nil, 3 },
  holes2 = { nil, 2 },
  sparse = { [2] = 2, [100] = "hundred" },
  mixed = { 1, 2, n = 2 },
  empty = {},
  empties = { {}, {}, { {} } },
  bools = { true, false, x = false },
  keys = { [1.5] = "f", [true] = "t", [false] = "F", s = "str", [-1] = "neg", [0] = "zero",
    [math.maxinteger] = "max", [math.mininteger] = "min", [1 / 0] = "inf", [-1 / 0] = "-inf",
    [{ 1, 2 }] = "arraykey", [{ k = "v" }] = "mapkey", [{}] = "emptykey", ["\255"] = "binkey",
    [""] = "emptystr", ["a\0b"] = "zero in key", [2 ^ 53] = "2^53 float key is an integer" },
  arr16 = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
  big_array = big,
  big_string = { big_string },
}

--- Strict equality: same types and number subtypes, NaN equals NaN, -0.0 differs from 0.0,
-- tables with the same keys (table keys matched by value) and values.
function common.equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    if a == 0 and math.type(a) == "float" then return 1 / a == 1 / b end
    return a == b
  end
  if type(a) ~= "table" then return a == b end
  local na, nb = 0, 0
  for _ in next, b do nb = nb + 1 end
  for k, v in next, a do
    na = na + 1
    if type(k) == "table" then
      local found = false
      for k2, v2 in next, b do
        if type(k2) == "table" and common.equal(k, k2) and common.equal(v, v2) then
          found = true
          break
        end
      end
      if not found then return false end
    elseif not common.equal(v, rawget(b, k)) then
      return false
    end
  end
  return na == nb
end

--- A short description of a value, for failure reports.
function common.show(v, depth)
  depth = depth or 0
  if type(v) == "string" then
    if #v > 40 then return ("<string of %d bytes>"):format(#v) end
    return ("%q"):format(v)
  end
  if type(v) == "number" then return math.type(v) .. ":" .. tostring(v) end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 3 then return "{...}" end
  local parts, n = {}, 0
  for k, x in next, v do
    n = n + 1
    if n > 20 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = "[" .. common.show(k, depth + 1) .. "]=" .. common.show(x, depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- Expected tables for the MessagePack forms mmnet never sends but must accept
-- (PROTOCOL.md, "MessagePack to Lua"); the peer sends them by these names as raw bytes.
common.decoded = {
  nonminimal = { 1, -1, 5, 5, 1, -1, math.maxinteger, math.mininteger },
  float32 = { 1.5, -0.0, 1 / 0, -1 / 0, nan },
  str_not_utf8 = { "\255\254\253\252" },
  bin_utf8 = { "abc" },
  nil_elements = { 1, nil, 3 },
  nil_values = { b = 1 },
  duplicates = { a = 2 },
  float_key = { [2] = "two", [1.5] = "x" },
  map_as_array = { "a", "b" },
  empty_array = {},
  nil_last = { 1, 2 },
}

--- Runs one command from a peer. `send(t)` sends a table back on the same link.
-- @return string|nil "quit" when the script should stop
function common.command(p, send, env)
  local cmd = p.cmd
  if cmd == "check" or cmd == "check_decoded" then
    local want = (cmd == "check" and common.cases or common.decoded)[p.name]
    local ok = want ~= nil and common.equal(want, p.value)
    send({ cmd = "checked", name = p.name, ok = ok,
      detail = ok and "" or ("want " .. common.show(want) .. " got " .. common.show(p.value)) })
  elseif cmd == "send_cases" then
    for name, t in pairs(common.cases) do
      local ok, why = send({ cmd = "case", name = name, value = t })
      if not ok then error("cannot send case " .. name .. ": " .. tostring(why)) end
    end
    send({ cmd = "cases_done" })
  elseif cmd == "send_table" then
    -- one case alone as the whole body, so the peer can compare the bytes
    send(common.cases[p.name] or load("return " .. p.name)())
  elseif cmd == "bits" then
    local out = {}
    for i, x in ipairs(p.value) do out[i] = string.pack(">d", x) end
    send({ cmd = "bits", bits = out })
  elseif cmd == "echo" then
    send({ cmd = "echo", value = p.value, seq = p.seq })
  elseif cmd == "size" then
    local n = 0
    for _, v in ipairs(p.value) do n = n + #v end
    send({ cmd = "size", bytes = n })
  elseif cmd == "stats" then
    local s = env.stats()
    send({ cmd = "stats", rtt = s.RTT or false, received = s.MessagesReceived,
      refused = network.GetStats().MessagesRefused })
  elseif cmd == "configure" then
    network.Configure(p.settings)
    send({ cmd = "configured" })
  elseif cmd == "quit" then
    return "quit"
  else
    return env.other and env.other(p)
  end
end

return common
