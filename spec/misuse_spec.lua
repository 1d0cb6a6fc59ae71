-- A script that misuses the API must get an error or nothing, never a crash, a hang or a
-- broken message (found by a review of the API's misuse, 2026-12-06). Each case runs in a
-- process of its own (spec/peers/misuse.lua): before the fixes, each crashed or hung it.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local helper = require "helper"

--- Runs misuse.lua CASE and checks that it exits 0 having printed `expected` (default "OK\n").
local function passes(case, expected)
  local peer = helper.spawn(net.peer_command("misuse", case), { timeout = 60 })
  local code = peer:wait(50)
  local output = peer:output()
  peer:close()
  assert.are.equal(0, code, output)
  assert.are.equal(expected or "OK\n", output)
end

describe("a script misusing the API", function()
  it("calls the objects' and the sentinel's __gc with a file: nothing happens to it", function()
    -- Before: the file's first word was released as an mmnet object (SIGSEGV).
    passes("foreign_gc")
  end)

  it("gives a light userdata an object's metatable and calls its methods and finalizers", function()
    -- Found by a review of the day's changes (2026-12-07): read as an object's block (SIGSEGV).
    passes("light_self")
  end)

  it("has a finalizer call a client's __gc by hand while client:Send runs", function()
    -- Before: Send went on with the freed connection (a hang on its lock, or a crash).
    passes("gc_in_send")
  end)

  it("has a finalizer edit the table being sent while client:Send runs", function()
    -- Before: 'invalid key to next' raised through the encoder (which leaked the lent string),
    -- or a map sent with fewer pairs than its header said, which the peer refused.
    passes("finalizer_edits", "OK 200 received\n")
  end)
end)
