-- A script that ends with os.exit(code), without the `true` that closes its Lua state: the
-- process's exit used to end mmnet's I/O thread in the middle of its work. A client that sent
-- 200 small messages in a loop lost the last of them in 10 runs of 10, and with a key a message
-- followed by Disconnect was lost in 7 of 20, its server told "peer closed the connection
-- without TLS close_notify" (found by the game-style review, 2026-12-07). mmnet now finishes at
-- exit as at the last state's close: what was sent goes out, and each connection closes
-- cleanly, within the close's time limit (IOThread+Exit.swift).
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local network = net.network

local KEY = "0C03EA65238DD2C25EB87CE563868098"

describe("a script that ends with os.exit(code), its Lua state left open", function()
  before_each(net.reset)
  after_each(net.reset)

  local cases = {
    { what = "a burst of 200 messages", count = 200, mode = "quit" },
    { what = "a burst of 200 encrypted messages", count = 200, mode = "quit", key = KEY },
    { what = "an encrypted message, then Disconnect", count = 1, mode = "disconnect-quit", key = KEY },
  }
  for _, case in ipairs(cases) do
    it("still delivers " .. case.what .. ", then closes cleanly", function()
      for round = 1, 3 do
        local server = assert(network.Server("127.0.0.1", 0, case.key))
        local peer = net.spawn_peer("sender", { server:GetPort(), case.count, case.mode, 100, 0, case.key or "" })
        finally(function() peer:close() end)
        local expected, errors, close, connection = net.receive_until_close(15)
        assert.are.equal(0, peer:wait(10), "the peer failed: " .. peer:output())
        assert(connection and close, "no connection, or no close event within 15 s (round " .. round .. ")")
        assert.are.same({}, errors)
        assert.are.equal(case.count, expected - 1, "round " .. round)
        assert.are.equal("closed by peer", close.Errors)
        server = nil
        collectgarbage()
      end
    end)
  end

  it("still ends when its peer reads nothing, within the close's time limit", function()
    -- A raw server that answers the hello and then reads nothing: the exiting client cannot
    -- write out its 20 MB, and gives up after 5 s without progress, as lua_close does.
    local listener = assert(net.socket.bind("127.0.0.1", 0))
    finally(function() listener:close() end)
    listener:settimeout(10)
    local _, port = listener:getsockname()
    local peer = net.spawn_peer("sender", { port, 2000, "quit", 10000 })
    finally(function() peer:close() end)
    local raw = assert(listener:accept())
    finally(function() raw:close() end)
    raw:settimeout(5)
    assert(raw:send(net.HELLO))
    assert.are.equal(net.HELLO, raw:receive(#net.HELLO))
    assert(peer:wait_for("^SENT 2000", 20), peer:output())
    local start = net.now()
    assert.are.equal(0, peer:wait(15), "still running 15 s after its exit began: " .. peer:output())
    local took = net.now() - start
    assert.is_true(took < 12, string.format("exit took %.1f s", took))
  end)
end)
