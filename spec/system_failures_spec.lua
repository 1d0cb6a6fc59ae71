-- The system refusing mmnet's I/O thread a call it cannot do without: the host must live on,
-- and the connections go on once the system allows the call again.
-- Runs the C test host (tests/host/host.c), whose HOST table can lower RLIMIT_NOFILE.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

describe("the I/O thread", function()
  -- Found by a review of the sources (2026-12-07): a failing poll(2) stopped the process
  -- (preconditionFailure, SIGILL). A host may lower RLIMIT_NOFILE below the descriptors mmnet
  -- polls, and poll(2) then fails with EINVAL; the kernel may also lack memory for it (ENOMEM).
  it("lives through poll(2) failing, and delivers what came meanwhile once it polls again", function()
    local chunk = [[
      local network = require "mmnet"
      local server = assert(network.Server("127.0.0.1", 0))
      local client = assert(network.Client("127.0.0.1", server:GetPort()))
      assert(client:WaitForConnect(5), "not connected")
      local function wait_for(kind, seconds)
        local deadline = os.time() + seconds
        repeat
          for _, e in ipairs(network.PollEvents(0.1)) do
            if e.Event == kind then return e end
          end
        until os.time() > deadline
      end
      assert(wait_for(network.EVENT_CONNECT, 5), "no EVENT_CONNECT")
      local before = HOST.nofile(2)        -- fewer than the descriptors the I/O thread polls
      assert(#network.PollEvents(0.3) == 0) -- its polls fail from its next one (0.1 s at most)
      assert(client:Send({ Seq = 1 }))      -- written by the script's thread
      local early = network.PollEvents(0.3) -- the I/O thread cannot read it yet
      HOST.nofile(before)
      assert(#early == 0, "read while poll(2) failed: the failure was not exercised")
      local e = assert(wait_for(network.EVENT_RECEIVE, 5), "the message never came")
      assert(e.Packet.Seq == 1, "wrong message")
      assert(client:Send({ Seq = 2 }))
      e = assert(wait_for(network.EVENT_RECEIVE, 5), "the second message never came")
      assert(e.Packet.Seq == 2, "wrong second message")
      print("DELIVERED")
    ]]
    local ok, code, out = helper.host_run(chunk, 30)
    assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
    assert.is_truthy(out:find("DELIVERED", 1, true), out)
  end)
end)
