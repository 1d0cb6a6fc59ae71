-- What an idle connection holds once its traffic has been read: a demanding server keeps
-- thousands of connections open, most of them quiet most of the time, and each must give back
-- what a burst made it take. Measured in the C test host (spec/peers/idle_memory.lua), which
-- counts malloc's blocks in use, with pings going on. Before: an encrypted connection kept the
-- 64 KiB its TLS engine's input had grown to, and the space of its last read (a pair held
-- 178 KB after one 60 KB message each way); and the state's buffer pool, handing out its
-- oldest buffer to each ping's read, never let any of its 64 go (100 plain pairs held 47 KB
-- each after a burst of small messages).
--
-- Thread: the busted process's Lua thread only; the measuring script runs in the test host.
local helper = require "helper"

--- Runs spec/peers/idle_memory.lua with `pairs` pairs of each kind, each side sending
-- `messages` messages of `size` bytes (0: small tables), then closing them if `close`; returns
-- plain and encrypted bytes held per pair.
local function held(pairs, messages, size, close)
  local command = string.format("env IDLE_PAIRS=%d IDLE_MESSAGES=%d IDLE_SIZE=%d IDLE_CLOSE=%d %s %s %s",
    pairs, messages, size, close and 1 or 0, helper.tree_env(), helper.quote(helper.host),
    helper.quote(helper.root .. "/spec/peers/idle_memory.lua"))
  local ok, code, out = helper.run(command, 120)
  assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
  local plain, encrypted = out:match("PLAIN (%-?%d+) ENCRYPTED (%-?%d+)")
  assert(plain, out)
  return tonumber(plain), tonumber(encrypted)
end

--- True (after marking the test pending) under a sanitizer, whose allocator's figures these are not.
local function under_sanitizer()
  if helper.sanitizer then pending("malloc's figures are the " .. helper.sanitizer .. " sanitizer's") end
  return helper.sanitizer ~= nil
end

describe("an idle connection, once its traffic was read,", function()
  it("holds a few KB after a burst of 1,000 small messages each way (100 pairs)", function()
    if under_sanitizer() then return end
    local plain, encrypted = held(100, 1000, 0)
    assert.is_true(plain < 16 * 1024, plain .. " bytes per plain pair")
    assert.is_true(encrypted < 64 * 1024, encrypted .. " bytes per encrypted pair")
  end)

  it("holds next to nothing once closed, though the script keeps its objects (150 pairs)", function()
    -- Found by a review of the encrypted server (2026-12-07): a closed encrypted connection
    -- kept its TLS engine (about 27 KB a side) until Lua collected its object, and a script
    -- keeping the object (a table of players) kept it for good: about 60 KB a closed pair.
    if under_sanitizer() then return end
    local plain, encrypted = held(150, 1, 1000, true)
    assert.is_true(plain < 8 * 1024, plain .. " bytes per closed plain pair")
    assert.is_true(encrypted < 8 * 1024, encrypted .. " bytes per closed encrypted pair")
  end)

  it("holds no read buffer after a 60 KB message each way, encrypted or not (150 pairs)", function()
    if under_sanitizer() then return end
    local plain, encrypted = held(150, 1, 60000)
    assert.is_true(plain < 16 * 1024, plain .. " bytes per plain pair")
    assert.is_true(encrypted < 64 * 1024, encrypted .. " bytes per encrypted pair")
  end)
end)
