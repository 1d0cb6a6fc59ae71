-- Large strings sent without a copy: a string of 64 KiB or more in a sent table is written
-- from the script's own memory (lent, kept reachable until written), so these check that what
-- arrives is exactly what was sent wherever such strings sit in the table, to one connection
-- or broadcast to several, whatever the script does with its strings after Send (drops them,
-- collects garbage, makes others), over TLS too, and when the sending Lua state closes with
-- them still queued; and that mmnet lets go of them once written or refused.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

local KiB = 1024
local K128 = "0C03EA65238DD2C25EB87CE563868098"

--- A string of `n` bytes made of `tag`, different for every tag.
local function filler(tag, n)
  local unit = string.format("%07d;", tag)
  return string.rep(unit, n // #unit) .. unit:sub(1, n % #unit)
end

--- Compares two strings without printing megabytes on failure.
local function same(expected, got, what)
  assert(type(got) == "string", what .. ": a string expected, got " .. type(got))
  assert(#got == #expected, what .. ": " .. #got .. " bytes, expected " .. #expected)
  assert(got == expected, what .. ": the bytes differ")
end

--- Reads `count` messages from `peer`, a raw socket a client connected to (its hello first),
-- checking that message i is { seq = i, data = filler(i, size) }. `context()`, if given,
-- adds to the message of a failed read.
local function expect_messages(peer, count, size, context)
  peer:settimeout(10)
  local seq = 0
  local function take(n)
    local bytes, problem = peer:receive(n)
    assert(bytes, "message " .. (seq + 1) .. ": " .. tostring(problem) .. (context and ("\n" .. context()) or ""))
    return bytes
  end
  assert.are.equal(net.HELLO, take(#net.HELLO))
  while seq < count do
    local length, frame_type = string.unpack(">I4B", take(5))
    local body = take(length)
    if frame_type == 0 then
      seq = seq + 1
      local message = assert(network.Decode(body))
      assert.are.equal(seq, message.seq)
      same(filler(seq, size), message.data, "message " .. seq)
    end
  end
end

--- A raw socket standing in for a server that reads nothing until the test does: listens on
-- 127.0.0.1, calls `connect(port)` (which starts the client and returns anything), accepts
-- the client and answers mmnet's hello. The caller closes the two sockets (one `finally`).
-- @return the accepted socket, the listener, and what `connect` returned
local function raw_peer(connect)
  local listener = assert(net.socket.bind("127.0.0.1", 0))
  listener:settimeout(10)
  local started = connect(tonumber((select(2, listener:getsockname()))))
  local peer = assert(listener:accept())
  assert(peer:send(net.HELLO))
  return peer, listener, started
end

describe("large strings, sent without a copy", function()
  before_each(net.reset)
  after_each(net.reset)

  for _, key in ipairs { false, K128 } do
    local how = key and "encrypted" or "plain"
    it("arrive intact wherever they sit in the table (" .. how .. ")", function()
      local server = assert(network.Server("127.0.0.1", 0, key or nil))
      local client = assert(network.Client("127.0.0.1", server:GetPort(), key or nil))
      assert.is_true((client:WaitForConnect(5)))
      local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
      local big = {}
      for i = 1, 5 do big[i] = filler(i, 64 * KiB + 1000 * i) end
      local binary = string.rep("\255\0", 40 * KiB)  -- not UTF-8: sent as bin
      local key_string = filler(9, 70 * KiB)
      local sent = {
        first = big[1], n = 1, list = { big[2], "small", big[3], 2.5 },
        binary = binary, [key_string] = true, last = big[4],
        edge = string.rep("e", 64 * KiB - 1), exact = string.rep("x", 64 * KiB),
      }
      for round = 1, 3 do
        sent.n = round
        assert.is_true(client:Send(sent))
        assert.are.equal(1, server:Send(sent, c))
      end
      for round = 1, 3 do
        for _, from in ipairs { c, client } do
          local p = assert(net.wait_kind(network.EVENT_RECEIVE, from, 10)).Packet
          assert.are.equal(round, p.n)
          same(big[1], p.first, "first")
          same(big[2], p.list[1], "list[1]")
          assert.are.equal("small", p.list[2])
          same(big[3], p.list[3], "list[3]")
          assert.are.equal(2.5, p.list[4])
          same(binary, p.binary, "binary")
          assert.is_true(p[key_string])
          same(big[4], p.last, "last")
          same(sent.edge, p.edge, "edge")
          same(sent.exact, p.exact, "exact")
        end
      end
    end)
  end

  it("arrive intact in maps whose header grows while they are written (16 and 65,536 pairs, nested)", function()
    -- A table with no array part is written with a one-byte map header that is widened once
    -- its pairs are counted (16 or more: 3 bytes; 65,536 or more: 5), moving the pairs after
    -- it, the lent strings among them included (before: they went in 2 or 4 bytes early, and
    -- a string starting with two zero bytes arrived with them moved to its end, no error).
    local function hash_only(pairs_count, big)
      local t = { data = big }
      for i = 1, pairs_count - 1 do t["k" .. i] = i end
      return t
    end
    local zeros = "\0\0" .. filler(1, 64 * KiB - 2)
    local tables = {
      hash_only(16, zeros),
      hash_only(16, filler(2, 64 * KiB)),
      hash_only(65536, filler(3, 70 * KiB)),
    }
    local nested = hash_only(20, filler(4, 66 * KiB))
    nested.inner = hash_only(17, zeros)
    nested.after = filler(5, 65 * KiB)
    tables[#tables + 1] = nested
    local server = assert(network.Server("127.0.0.1", 0))
    local client = assert(network.Client("127.0.0.1", server:GetPort()))
    assert.is_true((client:WaitForConnect(5)))
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    local function check(sent, got, where)
      for k, v in pairs(sent) do
        if type(v) == "table" then check(v, got[k], where .. "." .. k)
        elseif type(v) == "string" then same(v, got[k], where .. "." .. k)
        else assert(got[k] == v, where .. "." .. k .. ": " .. tostring(got[k])) end
      end
      for k in pairs(got) do assert(sent[k] ~= nil, where .. ": unexpected key " .. tostring(k)) end
    end
    for i, sent in ipairs(tables) do
      assert.is_true(client:Send(sent))
      assert.are.equal(1, server:Send(sent, c))
      for _, from in ipairs { c, client } do
        local e = assert(net.wait_kind(network.EVENT_RECEIVE, from, 10))
        check(sent, e.Packet, "table " .. i)
      end
    end
  end)

  it("arrive equal in random tables, wherever they sit (200 tables, seeded)", function()
    -- Lent strings of 64 KiB or more at random places in maps and arrays of random sizes
    -- (around the 16-pair header change), nested once, as keys too: each received table must equal
    -- the one sent. (This kind of run found the header-widening bug above.)
    local random = math.random
    math.randomseed(20261206)
    local function big()
      local n = ({ 65536, 65537, 70000, 100000 })[random(4)]
      return string.char(random(0, 255), random(0, 255)) .. string.rep(string.char(random(0, 255)), n - 2)
    end
    local function scalar()
      local r = random(5)
      if r == 1 then return random(-2^40, 2^40) elseif r == 2 then return random() * 1e6
      elseif r == 3 then return random(2) == 1 else return ("s"):rep(random(0, 40)) end
    end
    local function make(depth)
      local t, count = {}, ({ 0, 3, 15, 16, 17, 40 })[random(6)]
      local as_array = random(3) == 1
      for i = 1, count do
        local r, v = random(10), nil
        if r <= 2 then v = big() elseif r <= 4 and depth < 1 then v = make(depth + 1) else v = scalar() end
        if as_array then t[i] = v else t["k" .. i .. "_" .. random(1000)] = v end
      end
      if random(8) == 1 then t[big()] = true end
      return t
    end
    local function equal(a, b, where)
      if type(a) ~= "table" then
        assert(a == b, where .. ": " .. tostring(a):sub(1, 40) .. " became " .. tostring(b):sub(1, 40))
        return
      end
      assert(type(b) == "table", where .. ": a table became " .. type(b))
      for k, v in pairs(a) do equal(v, b[k], where .. "[" .. tostring(k):sub(1, 20) .. "]") end
      for k in pairs(b) do assert(a[k] ~= nil, where .. ": unexpected key " .. tostring(k):sub(1, 20)) end
    end
    local server = assert(network.Server("127.0.0.1", 0))
    local client = assert(network.Client("127.0.0.1", server:GetPort()))
    assert.is_true((client:WaitForConnect(5)))
    local c = assert(net.wait_kind(network.EVENT_CONNECT, nil, 5)).Object
    for i = 1, 200 do
      local sent = make(0)
      assert.is_true(client:Send(sent))
      equal(sent, assert(net.wait_kind(network.EVENT_RECEIVE, c, 10), "table " .. i .. " lost").Packet, "table " .. i)
    end
  end)

  it("count against MaxMessageSize as copied ones do, the place of the overflow named", function()
    local server, client, c = net.pair()
    network.Configure({ MaxMessageSize = 1024 * KiB })
    local function refused(t, where)
      local sent, why = client:Send(t)
      assert.is_false(sent)
      assert.are.equal("packet: encoded message is larger than the limit of 1048576 bytes (reached at " ..
        where .. ")", why)
    end
    refused({ string.rep("a", 2048 * KiB) }, "packet[1]")
    refused({ string.rep("a", 600 * KiB), string.rep("b", 600 * KiB) }, "packet[2]")
    -- Copied strings after a lent one: the lent bytes already took their share of the limit.
    refused({ string.rep("a", 900 * KiB), string.rep("b", 60 * KiB), string.rep("c", 60 * KiB),
      string.rep("d", 60 * KiB) }, "packet[4]")
    -- The exact edge, as Encode has it: an array header (1 byte), a str32 header (5), the bytes.
    refused({ string.rep("a", 1024 * KiB - 5) }, "packet[1]")
    assert.is_nil(network.Encode({ string.rep("a", 1024 * KiB - 5) }))
    assert.is_true(client:Send({ string.rep("a", 1024 * KiB - 6) }))
    assert.is_string(network.Encode({ string.rep("a", 1024 * KiB - 6) }))
    local p = assert(net.wait_kind(network.EVENT_RECEIVE, c, 10)).Packet
    assert.are.equal(1024 * KiB - 6, #p[1])
    assert.are.equal(1, server:ConnectionCount())
  end)

  it("broadcast to several clients arrive intact at each", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local clients = {}
    for i = 1, 3 do
      clients[i] = assert(network.Client("127.0.0.1", server:GetPort()))
      assert.is_true((clients[i]:WaitForConnect(5)))
    end
    local data = filler(7, 300 * KiB)
    assert.are.equal(3, server:Broadcast({ data = data, n = 1 }))
    for i = 1, 3 do
      local p = assert(net.wait_kind(network.EVENT_RECEIVE, clients[i], 10)).Packet
      assert.are.equal(1, p.n)
      same(data, p.data, "client " .. i)
    end
  end)

  it("are let go of once written, or at once when the table is refused", function()
    local server, client, c = net.pair()
    collectgarbage(); collectgarbage()
    local before = collectgarbage("count")
    for i = 1, 40 do
      -- The string is lent before the function value after it refuses the table.
      local sent, why = client:Send({ filler(i, 1024 * KiB), print })
      assert.is_false(sent)
      assert.is_truthy(why:find("function values cannot be sent", 1, true), why)
    end
    for i = 1, 40 do
      assert.is_true(client:Send({ seq = i, data = filler(i, 1024 * KiB) }))
    end
    for i = 1, 40 do
      assert.are.equal(i, assert(net.wait_kind(network.EVENT_RECEIVE, c, 20)).Packet.seq)
    end
    network.PollEvents()  -- every loan has ended by now: their strings are let go of here
    collectgarbage(); collectgarbage()
    local grown = collectgarbage("count") - before
    -- 80 MiB of strings went through; kept, they would show here.
    assert.is_true(grown < 8 * 1024, string.format("the Lua heap grew by %.0f KiB", grown))
    assert.are.equal(1, server:ConnectionCount())
    assert.is_truthy(c)
  end)

  it("arrive intact when the script drops them at once and its memory is reused", function()
    -- A raw peer that reads nothing until all is sent: the messages wait in the send queue
    -- while the script collects its garbage and makes strings of the same size.
    local peer, listener, client = raw_peer(function(port) return assert(network.Client("127.0.0.1", port)) end)
    finally(function() peer:close(); listener:close() end)
    assert.is_true((client:WaitForConnect(5)))
    local count, size = 40, 256 * KiB
    for i = 1, count do
      assert.is_true(client:Send({ seq = i, data = filler(i, size) }))
      collectgarbage()
      local decoy = string.rep("#", size) .. i  -- likely in the memory of a freed string
      assert(#decoy > size)
      network.PollEvents()
    end
    expect_messages(peer, count, size)
  end)

  it("still queued when their Lua state closes, arrive intact (copied at lua_close)", function()
    -- The C test host runs two states: the first sends 24 MiB to a raw peer that reads nothing
    -- yet, then is closed (lua_close frees its strings) while the second keeps the I/O thread
    -- running, so most of it is still queued then. With --poison, every block Lua frees is
    -- overwritten first: a queue still reading a freed string would send the poison.
    local count, size = 24, 1024 * KiB
    local chunk = [[
      local network = require "mmnet"
      if STATE_INDEX == 1 then
        local client = assert(network.Client("127.0.0.1", %s))
        assert(client:WaitForConnect(5))
        for i = 1, %d do
          assert(client:Send({ seq = i, data = string.rep(string.format("%%07d;", i), %d // 8) }))
        end
        print("SENT")
        io.stdout:flush()
      end]]
    local peer, listener, sender = raw_peer(function(port)
      return helper.spawn(helper.tree_env() .. " " .. helper.quote(helper.host) .. " --states 2 --poison -e " ..
        helper.quote(string.format(chunk, port, count, size)), { timeout = 60 })
    end)
    finally(function() peer:close(); listener:close(); sender:close() end)
    assert.is_truthy(sender:wait_for("^SENT", 30), sender:output())
    helper.sleep(0.3)  -- the first state is closed: its strings are freed
    expect_messages(peer, count, size, function() return sender:output() end)
    assert.are.equal(0, sender:wait(20), sender:output())
  end)
end)
