-- codec_spec.lua: network.Encode / network.Decode, through the installed tree (`make test-lua`).
--
-- Thread: Lua thread only (busted under lua5.4).
--
-- Byte vectors, round-trip properties over generated tables, every refusal with its message,
-- the malformed corpus in Tests/corpus/msgpack/, and interop both ways with Python's msgpack.

local helper = require "helper"
local network = require "mmnet"

local ROOT = os.getenv("MMNET_ROOT") or "."
local PYTHON = "/usr/bin/python3"   -- Debian's, which has python3-msgpack (pyenv's may not)
local MiB = 1024 * 1024

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
  h = h:gsub("%s", "")
  return (h:gsub("..", function(b) return string.char(tonumber(b, 16)) end))
end

-- Type-strict deep equality: integer ~= float, NaN equals NaN, -0.0 differs from 0.0, and table
-- keys are matched by structure.
local same
local function same_number(a, b)
  if math.type(a) ~= math.type(b) then return false end
  if a ~= a or b ~= b then return a ~= a and b ~= b end
  if a == 0 and b == 0 and math.type(a) == "float" then return 1 / a == 1 / b end
  return a == b
end
function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return same_number(a, b) end
  if type(a) ~= "table" then return a == b end
  local count_a, count_b = 0, 0
  for _ in pairs(b) do count_b = count_b + 1 end
  for k, v in pairs(a) do
    count_a = count_a + 1
    if type(k) == "table" then
      local found = false
      for k2, v2 in pairs(b) do
        if type(k2) == "table" and same(k, k2) and same(v, v2) then found = true break end
      end
      if not found then return false end
    elseif not same(v, b[k]) then
      return false
    end
  end
  return count_a == count_b
end

local function roundtrip(t)
  local bytes = assert(network.Encode(t))
  local back, err = network.Decode(bytes)
  assert(back, err)
  return back, bytes
end

-- Runs `shell` with `timeout`, returning its whole output.
local function run(shell)
  local pipe = assert(io.popen("timeout 30 " .. shell .. " 2>&1"))
  local out = pipe:read("a")
  pipe:close()
  return out
end

describe("network.Encode / network.Decode", function()
  it("runs on Lua 5.4 and is registered", function()
    assert.are.equal("Lua 5.4", _VERSION)
    assert.are.equal("function", type(network.Encode))
    assert.are.equal("function", type(network.Decode))
  end)

  describe("byte vectors", function()
    local big = (1 << 53) + 1
    local vectors = {
      {{}, "80"},
      {{1, 2, 3}, "93 01 02 03"},
      {{1, nil, 3}, "82 01 01 03 03"},
      {{a = 1}, "81 a161 01"},
      {{OpCode = 10}, "81 a64f70436f6465 0a"},
      {{true, false}, "92 c3 c2"},
      {{1.0}, "91 cb3ff0000000000000"},
      {{-0.0}, "91 cb8000000000000000"},
      {{1 / 0, -1 / 0}, "92 cb7ff0000000000000 cbfff0000000000000"},
      {{math.maxinteger}, "91 cf7fffffffffffffff"},
      {{math.mininteger}, "91 d38000000000000000"},
      {{big}, "91 cf0020000000000001"},
      {{-1, -32, -33, 127, 128, 255, 256, 65535, 65536},
        "99 ff e0 d0df 7f cc80 ccff cd0100 cdffff ce00010000"},
      {{-129, -32768, -32769, 4294967296}, "94 d1ff7f d18000 d2ffff7fff cf0000000100000000"},
      {{"a\0b"}, "91 a3610062"},
      {{""}, "91 a0"},
      {{"\255"}, "91 c401ff"},
      {{"\u{e9}"}, "91 a2c3a9"},
      {{string.rep("x", 32)}, "91 d920" .. string.rep("78", 32)},
      {{{}}, "91 80"},
      {{{{1}}}, "91 91 91 01"},
      {{[1.5] = true}, "81 cb3ff8000000000000 c3"},
      {{[true] = 1}, "81 c3 01"},
      {{[-1] = 0}, "81 ff 00"},
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
        "dc0010 0102030405060708090a0b0c0d0e0f10"},
    }
    for i, v in ipairs(vectors) do
      it("vector " .. i .. ": " .. v[2], function()
        assert.are.equal(v[2]:gsub(" ", ""), hex(network.Encode(v[1])))
        assert.is_true(same(v[1], network.Decode(unhex(v[2]))))
      end)
    end

    it("writes map16 and str16/str32 and bin headers", function()
      local t = {}
      for i = 1, 16 do t["k" .. i] = i end
      assert.are.equal("de0010", hex(network.Encode(t)):sub(1, 6))
      assert.are.equal("91da0100", hex(network.Encode({string.rep("y", 256)})):sub(1, 8))
      assert.are.equal("91db00010000", hex(network.Encode({string.rep("y", 65536)})):sub(1, 12))
      assert.are.equal("91c50100", hex(network.Encode({string.rep("\255", 256)})):sub(1, 8))
    end)
  end)

  describe("round trip", function()
    it("keeps integer and float subtypes and special floats", function()
      local t = {1, 1.0, (1 << 53) + 1, math.mininteger, math.maxinteger, 1 / 0, -1 / 0, -0.0, 0.0,
        0 / 0, 2^53, 1e308, 5e-324, -1.5}
      local back = roundtrip(t)
      assert.is_true(same(t, back))
      assert.are.equal("integer", math.type(back[1]))
      assert.are.equal("float", math.type(back[2]))
      assert.are.equal((1 << 53) + 1, back[3])
      assert.are.equal(-math.huge, 1 / back[8])
      assert.is_true(back[10] ~= back[10])
    end)

    it("keeps strings byte-exact, embedded zeros and invalid UTF-8 included", function()
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      local t = {table.concat(all), "\0", "\0\0\0", "\xff\xfe", "ok", "\xed\xa0\x80", "\xc0\x80"}
      assert.is_true(same(t, (roundtrip(t))))
    end)

    it("keeps keys of every type, tables included, and holes", function()
      local k = {1, 2}
      local t = {[1.5] = "f", [true] = "t", [false] = "F", [-7] = "n", [0] = "zero", s = "s",
        [k] = "table key", [{}] = "empty key", [math.maxinteger] = 1, [math.mininteger] = 2}
      assert.is_true(same(t, (roundtrip(t))))
      assert.is_true(same({1, nil, 3}, (roundtrip({1, nil, 3}))))
      assert.is_true(same({nil, 2}, (roundtrip({nil, 2}))))
      assert.is_true(same({[2] = 2, [3] = 3}, (roundtrip({[2] = 2, [3] = 3}))))
    end)

    it("encodes an empty table as an empty map, decoded back as an empty table", function()
      assert.are.equal("80", hex(network.Encode({})))
      assert.are.same({}, network.Decode("\x80"))
      assert.are.same({}, network.Decode("\x90"))
    end)

    it("allows the same table twice when it is not a cycle", function()
      local shared = {1, 2}
      local back = roundtrip({a = shared, b = shared, c = {shared, shared}})
      assert.are.same({1, 2}, back.a)
      assert.are.same({{1, 2}, {1, 2}}, back.c)
    end)

    it("accepts nesting up to exactly the depth limit (64)", function()
      local root = {}
      local t = root
      for _ = 2, 64 do t[1] = {}; t = t[1] end
      local back = roundtrip(root)
      local depth = 0
      while back do depth = depth + 1; back = back[1] end
      assert.are.equal(64, depth)
    end)

    it("holds for thousands of generated tables", function()
      math.randomseed(20261125)
      local random = math.random
      local function random_string()
        local r = random(10)
        local n = r <= 6 and random(0, 12) or (r <= 9 and random(13, 300) or random(301, 70000))
        local bytes = {}
        local high = random(3) == 1
        for i = 1, n do
          bytes[i] = high and random(0, 255) or random(32, 126)
        end
        if n <= 300 or not high then return string.char(table.unpack(bytes, 1, math.min(n, 300))) .. string.rep("z", n - math.min(n, 300)) end
        return string.char(table.unpack(bytes, 1, 300)) .. string.rep("\255", n - 300)
      end
      local integers = {0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2^31 // 1, -(2^31 // 1) - 1,
        4294967295, 4294967296, math.maxinteger, math.mininteger, (1 << 53) + 1}
      local floats = {0.0, -0.0, 1.0, 1.5, -2.25, 1 / 0, -1 / 0, 0 / 0, 1e300, 5e-324, 3.0}
      local gen_value
      local function gen_scalar()
        local r = random(6)
        if r == 1 then return integers[random(#integers)]
        elseif r == 2 then return random(math.mininteger, math.maxinteger)
        elseif r == 3 then return floats[random(#floats)]
        elseif r == 4 then return (random() - 0.5) * 2 ^ random(-60, 60)
        elseif r == 5 then return random(2) == 1
        else return random_string() end
      end
      local function gen_key(depth)
        local r = random(10)
        if r <= 4 then return random_string()
        elseif r <= 7 then return random(-5, 40)
        elseif r == 8 then return random(2) == 1
        elseif r == 9 then
          local f = floats[random(#floats)]
          if f ~= f then f = 0.5 end
          return f
        else return depth < 4 and gen_value(depth + 1, true) or "k" end
      end
      function gen_value(depth, as_table)
        if not as_table and (depth >= 6 or random(3) > 1) then return gen_scalar() end
        local t = {}
        local shape = random(4)
        if shape == 1 then                      -- array, maybe with holes
          for i = 1, random(0, 20) do if random(8) > 1 then t[i] = gen_value(depth + 1) end end
        elseif shape == 2 then                  -- map
          for _ = 1, random(0, 12) do
            local k = gen_key(depth)
            if k ~= nil then t[k] = gen_value(depth + 1) end
          end
        elseif shape == 3 then                  -- mixed
          for i = 1, random(0, 5) do t[i] = gen_value(depth + 1) end
          t[random_string()] = gen_value(depth + 1)
        end                                     -- shape 4: empty
        return t
      end
      local cases = 3000
      for case = 1, cases do
        local t = gen_value(1, true)
        local bytes, err = network.Encode(t)
        assert(bytes, err)
        local back, derr = network.Decode(bytes)
        assert(back, derr)
        if not same(t, back) then error("case " .. case .. " did not round-trip: " .. hex(bytes):sub(1, 200)) end
      end
    end)

    it("gives map keys back byte-exact through the key cache, however many keys share it", function()
      -- Decode keeps recent short keys to push them again: thousands of distinct keys of every
      -- length, pairs that differ in one byte only, embedded zeros, decoded in rounds and in
      -- both orders, so that keys evict one another and come back.
      local keys, seen = {}, {}
      local function add(key)
        if not seen[key] then seen[key] = true; keys[#keys + 1] = key end
      end
      add(""); add("\0\0\0"); add(string.rep("\xff", 40))
      for length = 1, 34 do
        for position = 1, length do
          for _, byte in ipairs({0, 65, 200}) do
            local key = string.rep("k", length)
            add(key:sub(1, position - 1) .. string.char(byte) .. key:sub(position + 1))
          end
        end
      end
      for round = 1, 3 do
        for first = 1, #keys, 7 do
          local t = {}
          for i = first, math.min(first + 6, #keys) do t[keys[i]] = i end
          local back = assert(network.Decode(assert(network.Encode(t))))
          for i = first, math.min(first + 6, #keys) do
            assert(back[keys[i]] == i, "round " .. round .. ": key " .. hex(keys[i]) .. " lost")
          end
          assert.is_true(same(t, back))
        end
        -- Reversed, so that each round meets the cache in another state.
        for i = 1, #keys // 2 do keys[i], keys[#keys + 1 - i] = keys[#keys + 1 - i], keys[i] end
      end
    end)
  end)

  describe("refusals when encoding", function()
    local function refused(t, expected)
      local results = table.pack(network.Encode(t))
      assert.are.equal(2, results.n)
      assert.is_nil(results[1])
      assert.are.equal(expected, results[2])
    end

    it("names the place of a function, userdata, thread or light userdata value", function()
      refused({list = {1, 2, {f = print}}}, "table.list[3].f: function values cannot be sent")
      refused({io.stdout}, "table[1]: userdata values cannot be sent")
      refused({co = coroutine.create(print)}, "table.co: thread values cannot be sent")
      local light = debug.upvalueid(function() return refused end, 1)
      refused({x = {light}}, "table.x[1]: light userdata values cannot be sent")
      refused({[1.5] = {[true] = {["a b"] = {["end"] = print}}}},
        "table[1.5][true][\"a b\"][\"end\"]: function values cannot be sent")
      refused({["q\"\n"] = print}, "table[\"q\\\"\\n\"]: function values cannot be sent")
      refused({[-3] = print}, "table[-3]: function values cannot be sent")
      -- Control bytes as %q writes them, three digits: "\1" then "2" is not "\12".
      refused({["\1" .. "2"] = print}, "table[\"\\0012\"]: function values cannot be sent")
      -- A long key shows its first 64 bytes, whole characters, then its length (before: a
      -- message as long as the key, 3 MB for a key of 3 MB).
      refused({[("ab"):rep(1e6)] = print},
        "table[\"" .. ("ab"):rep(32) .. "\"... (2000000 bytes)]: function values cannot be sent")
      refused({[("é"):rep(40)] = print}, "table[\"" .. ("é"):rep(32) .. "\"... (80 bytes)]: function values cannot be sent")
      refused({[("x"):rep(64)] = print}, "table." .. ("x"):rep(64) .. ": function values cannot be sent")
      refused({[1/0] = print}, "table[1/0]: function values cannot be sent")
      refused({[-1/0] = print}, "table[-1/0]: function values cannot be sent")
    end)

    it("refuses keys of those types too", function()
      refused({[print] = 1}, "table: function keys cannot be sent")
      refused({a = {[io.stdout] = 1}}, "table.a: userdata keys cannot be sent")
      refused({[{f = print}] = 1}, "table[table].f: function values cannot be sent")
    end)

    it("refuses cycles, direct and deeper, through values and keys", function()
      local t = {}; t.self = t
      refused(t, "table.self: cycles cannot be sent (this table contains itself)")
      local a = {}; a.b = {c = {a}}
      refused(a, "table.b.c[1]: cycles cannot be sent (this table contains itself)")
      local k = {}; k[k] = true
      refused(k, "table[table]: cycles cannot be sent (this table contains itself)")
    end)

    it("refuses nesting deeper than 64", function()
      local root = {}
      local t = root
      for _ = 2, 65 do t.x = {}; t = t.x end
      local _, err = network.Encode(root)
      assert.are.equal("table" .. string.rep(".x", 64) .. ": tables nested deeper than 64 levels cannot be sent", err)
    end)

    it("refuses an encoding over 16 MiB, and takes one of exactly 16 MiB", function()
      local exact = {string.rep("x", 16 * MiB - 6)}          -- 91 db <4 bytes> + payload
      assert.are.equal(16 * MiB, #network.Encode(exact))
      refused({string.rep("x", 16 * MiB - 5)}, "table: encoded message is larger than the limit of 16777216 bytes (reached at table[1])")
      local many = {}
      for i = 1, 2 * MiB do many[i] = 1.5 end                -- 18 MiB of float64
      refused(many, "table: encoded message is larger than the limit of 16777216 bytes (reached at table[1864135])")
    end)

    it("raises an argument error for a non-table, and nothing else", function()
      local ok, err = pcall(network.Encode, 42)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.-Encode' %(table expected, got number%)", err)
      ok, err = pcall(network.Encode)
      assert.is_false(ok)
      assert.matches("table expected, got no value", err)
    end)

    it("uses raw access: metamethods are neither called nor sent", function()
      local calls = 0
      local mt = {__index = function() calls = calls + 1 return 1 end, __len = function() calls = calls + 1 return 5 end,
        __pairs = function() calls = calls + 1 return next, {}, nil end}
      local t = setmetatable({1, 2}, mt)
      assert.are.equal("920102", hex(network.Encode(t)))
      assert.are.equal(0, calls)
    end)

    it("leaves numbers as numbers (no in-place string conversion)", function()
      local t = {[1] = 10, [2] = 2.5}
      network.Encode(t)
      assert.are.equal("integer", math.type(t[1]))
      assert.are.equal("float", math.type(t[2]))
    end)
  end)

  describe("refusals when decoding", function()
    local function malformed(bytes, pattern)
      local results = table.pack(network.Decode(bytes))
      assert.are.equal(2, results.n)
      assert.is_nil(results[1])
      assert.is_string(results[2])
      if pattern then assert.matches(pattern, results[2], 1, true) end
    end

    it("refuses each kind of hostile input with a message", function()
      malformed("", "empty input")
      malformed("\x93\x01", "array of 3 entries declared")
      malformed("\x91\xdb\x7f\xff\xff\xff", "truncated at byte 1")
      malformed("\x81\xc0\x01", "nil map key")
      malformed("\x81\xcb\x7f\xf8\0\0\0\0\0\0\x01", "NaN map key")
      malformed("\x91\xd4\x05\x00", "extension types are not supported")
      malformed("\x91\xcf\x80\0\0\0\0\0\0\0", "unsigned integer above 9223372036854775807")
      malformed("\x91\x01\x02", "1 trailing byte after")
      malformed(string.rep("\x91", 100000) .. "\x01", "nested deeper than 64 levels")
      malformed("\xdd\xff\xff\xff\xff", "array of 4294967295 entries declared at byte 0 but only 0 bytes remain")
      malformed("\xdf\xff\xff\xff\xff", "map of 4294967295 entries declared")
      malformed("\x01", "must be a table")
      malformed("\x91\xc1", "invalid byte 0xc1")
    end)

    it("refuses number keys chosen to collide in this Lua's tables, and takes the usual ones", function()
      -- 20,000 keys make a hash part of 32,768 nodes; Lua 5.4.4+ puts key % 32767 together,
      -- 5.4.0 to 5.4.3 key % 32768, and floats by l_hashfloat. Each took Lua 0.5 s to insert.
      -- mmnet counts the placement of the Lua it was loaded into.
      local _, _, version = helper.run(helper.lua .. " -v", 10)
      local release = tonumber(version:match("Lua 5%.4%.(%d+)"))
      local modulo = assert(release, "no Lua 5.4 release number") >= 4
      local function keys(make, count)
        local t = {}
        for j = 1, count or 20000 do t[make(j)] = true end
        return assert(network.Encode(t))
      end
      local pattern = "its number keys collide in Lua's tables (more than 16777216 extra probes"
      local by_modulo, by_low_bits = keys(function(j) return j * 32767 end), keys(function(j) return j * 32768 end)
      malformed(modulo and by_modulo or by_low_bits, pattern)
      malformed(keys(function(j) return (2^30 + j * 32767) / 2^30 end), pattern)
      assert.are.equal(20000, #network.Decode(keys(function(j) return j end)))
      local strided = network.Decode(keys(function(j) return j * 1000 end))
      assert.is_true(strided[20000000])
      -- What collides only in the other placement costs this Lua nothing, and is taken (before:
      -- both placements counted, and 65,536 keys i * 1024, which 5.4.4 inserts in a few ms,
      -- were refused).
      local harmless = assert(network.Decode(modulo and by_low_bits or by_modulo))
      assert.is_true(harmless[modulo and 32768 or 32767])
      if modulo then
        local powers = assert(network.Decode(keys(function(j) return (j - 1) * 1024 end, 65536)))
        assert.is_true(powers[65535 * 1024])
      end
    end)

    it("refuses 64 levels of arrays declaring as many elements as bytes remain before Lua sizes a table by them", function()
      local resources = require "resources"
      local size, parts, used = 1 << 20, {}, 0
      for _ = 1, 63 do
        parts[#parts + 1] = "\xdd" .. string.pack(">I4", size - used - 5)
        used = used + 5
      end
      parts[#parts + 1] = ("\x80"):rep(size - used)  -- ends long before the declared counts
      local bytes = table.concat(parts)
      collectgarbage()
      resources.reset_peak_rss()
      local before = resources.rss_kb()
      malformed(bytes, "truncated at byte 1048576")
      -- Decoded level by level, each table made at its declared size: 1 GB at the peak.
      resources.assert_rss_growth(resources.peak_rss_kb() - before, 32 * 1024, "at the peak")
    end)

    it("refuses input over the size limit before reading it", function()
      malformed("\x91\xdb\x01\0\0\0" .. string.rep("x", 16 * MiB), "larger than the limit of 16777216 bytes")
    end)

    it("raises an argument error for a non-string", function()
      local ok, err = pcall(network.Decode, {})
      assert.is_false(ok)
      assert.matches("string expected, got table", err)
    end)

    it("decodes every integer form, float32, str8 and old raw strings", function()
      local t = network.Decode(unhex("98 cc00 cd1234 ce00010000 cf0000000000000001 d0ff d1ff7f d2ffffffff d3ffffffffffffffff"))
      assert.is_true(same({0, 0x1234, 65536, 1, -1, -129, -1, -1}, t))
      local f = network.Decode(unhex("91 ca3fc00000"))
      assert.are.equal(1.5, f[1])
      assert.are.equal("float", math.type(f[1]))
      assert.are.same({"abc"}, network.Decode(unhex("91 d903616263")))
    end)

    it("lets the last of duplicate map keys win", function()
      assert.are.same({a = 2}, network.Decode(unhex("82 a161 01 a161 02")))
    end)

    it("leaves the stack balanced on success and failure", function()
      -- Each call must return exactly its own results, whatever happened inside.
      for _ = 1, 1000 do
        local a = table.pack(network.Decode("\x92\x91\x91\x01"))
        assert.are.equal(2, a.n)
        local b = table.pack(network.Decode("\x92\x01\x02"))
        assert.are.equal(1, b.n)
        local c = table.pack(network.Encode({1, {2, {print}}}))
        assert.are.equal(2, c.n)
      end
      -- Deep input inside a coroutine with a small stack.
      local co = coroutine.wrap(function()
        local root = {}
        local t = root
        for _ = 2, 64 do t[1] = {k = 1}; t = t[1] end
        return select("#", network.Decode(network.Encode(root)))
      end)
      assert.are.equal(1, co())
    end)

    it("refuses every file of the malformed corpus", function()
      local dir = ROOT .. "/Tests/corpus/msgpack"
      local listing = run("ls " .. dir)
      local count = 0
      for name in listing:gmatch("[^\n]+%.bin") do
        local f = assert(io.open(dir .. "/" .. name, "rb"))
        local bytes = f:read("a")
        f:close()
        local results = table.pack(network.Decode(bytes))
        assert(results.n == 2 and results[1] == nil and type(results[2]) == "string",
          name .. " was not refused")
        count = count + 1
      end
      assert.is_true(count >= 40, "corpus files found: " .. count)
    end)
  end)

  it("Encode and Decode follow the MaxDepth and MaxMessageSize that Configure sets", function()
    local defaults = network.Configure()
    finally(function() network.Configure(defaults) end)
    local deep = { a = { b = { c = 1 } } }
    local bytes = assert(network.Encode(deep))
    network.Configure({ MaxDepth = 2 })
    local s, why = network.Encode(deep)
    assert.is_nil(s)
    assert.is_truthy(why:find("deeper than 2", 1, true), why)
    local t, why2 = network.Decode(bytes)
    assert.is_nil(t)
    assert.is_truthy(why2:find("2", 1, true), why2)
    network.Configure({ MaxDepth = 3, MaxMessageSize = 16 })
    assert.are.same(deep, network.Decode(assert(network.Encode(deep))))
    local big = { string.rep("x", 100) }
    local s2, why3 = network.Encode(big)
    assert.is_nil(s2)
    assert.is_truthy(why3:find("limit of 16 bytes", 1, true), why3)
    network.Configure(defaults)
    local big_bytes = assert(network.Encode(big))
    network.Configure({ MaxMessageSize = 16 })
    local t2, why4 = network.Decode(big_bytes)
    assert.is_nil(t2)
    assert.is_truthy(why4:find("16", 1, true), why4)
    network.Configure(defaults)
    assert.are.same(big, network.Decode(big_bytes))
  end)

  describe("interop with Python's msgpack", function()
    local script = ROOT .. "/spec/fixtures/msgpack_interop.py"

    it("Python decodes what mmnet encodes to the expected values", function()
      local cases = {
        basic = {OpCode = 10, Data = "From server", Seq = 1},
        array = {1, 2, 3, "x"},
        holes = {1, nil, 3},
        numbers = {i = 1, f = 1.0, big = (1 << 53) + 1, min = math.mininteger, max = math.maxinteger,
          inf = 1 / 0, ninf = -1 / 0, negzero = -0.0, nan = 0 / 0, neg = -129, u32 = 1 << 32},
        binary = {b = "\0\1\255"},
        unicode = {s = "h\u{e9}llo \u{2713}"},
        zeros = {s = "a\0b"},
        nested = {a = {b = {c = {1, 2}}}},
        empty = {e = {}},
        keys = {[1.5] = "f", [true] = "t", [-7] = "n"},
        long = {s = string.rep("x", 70000), arr = {}, map = {}},
      }
      for i = 1, 20 do cases.long.arr[i] = i end
      for i = 0, 19 do cases.long.map["k" .. i] = i end
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      local names = {}
      for name, t in pairs(cases) do
        f:write(name, " ", hex(assert(network.Encode(t))), "\n")
        names[#names + 1] = name
      end
      f:close()
      local out = run(PYTHON .. " " .. script .. " check " .. path)
      os.remove(path)
      for _, name in ipairs(names) do
        assert(out:find("ok " .. name .. "\n", 1, true), "python: " .. out)
      end
      assert.is_nil(out:find("FAIL", 1, true), out)
    end)

    it("mmnet decodes what Python encodes to the expected tables", function()
      local out = run(PYTHON .. " " .. script .. " emit")
      local got = {}
      for name, h in out:gmatch("(%w+) (%x+)\n") do
        local t, err = network.Decode(unhex(h))
        assert(t, name .. ": " .. tostring(err))
        got[name] = t
      end
      local long = {s = string.rep("x", 70000), arr = {}, map = {}}
      for i = 1, 20 do long.arr[i] = i end
      for i = 0, 19 do long.map["k" .. i] = i end
      local expected = {
        basic = {OpCode = 10, Data = "From server", Seq = 1},
        numbers = {i = 1, f = 1.0, big = (1 << 53) + 1, min = math.mininteger, max = math.maxinteger,
          u64 = math.maxinteger, inf = 1 / 0, ninf = -1 / 0, negzero = -0.0, nan = 0 / 0, neg = -129},
        float32 = {f = 1.5, g = -0.25},
        binary = {b = "\0\1\255"},
        oldraw = {b = "raw"},
        unicode = {s = "h\u{e9}llo \u{2713}"},
        nested = {a = {b = {c = {1, 2}}}},
        list = {1, nil, 3},
        empty = {e = {}, l = {}},
        keys = {[1.5] = "f", [true] = "t", [-7] = "n"},
        tuplekey = {[{1, 2}] = "t"},
        long = long,
      }
      for name, t in pairs(expected) do
        assert(got[name], "python did not emit " .. name .. ": " .. out:sub(1, 300))
        assert(same(t, got[name]), name .. " decoded differently")
      end
    end)
  end)
end)
