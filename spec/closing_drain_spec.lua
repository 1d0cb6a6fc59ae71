-- A connection closing at our request drops what its peer still sends, and must do so
-- cheaply: after large frames it read a frame header (5 bytes) per read(2), so a peer writing
-- on took a whole CPU until the linger ran out, and a process exiting with large messages
-- queued both ways on one link (each side flushing into the other) took 30 s to close.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local helper = require "helper"
local network = net.network

describe("a closing connection whose peer writes on", function()
  before_each(net.reset)
  after_each(net.reset)

  it("drops what arrives without spinning (after large frames)", function()
    local server, client, c = net.pair()
    local big = { string.rep("x", 1024 * 1024) }
    -- One large message reaches the client: its connection now expects large frames.
    assert.are.equal(1, server:Send(big, c))
    assert(net.wait_kind(network.EVENT_RECEIVE, client, 5))
    for _ = 1, 60 do server:Send(big, c) end
    client:Disconnect()
    -- The server writes 60 MiB into the closing client for as long as it reads them.
    local cpu = os.clock()
    net.socket.sleep(1)
    cpu = os.clock() - cpu
    -- Before: 1.0 s of CPU in this second (149,251 reads of 5 bytes in 3 s).
    assert.is_true(cpu < 0.5, string.format("%.2f s of CPU in 1 s of sleep", cpu))
  end)

  it("lets a process exit promptly with large messages queued both ways on one link", function()
    local peer = helper.spawn(net.peer_command("exit_midtraffic"), { timeout = 60 })
    finally(function() peer:close() end)
    assert(peer:wait_for("^EXITING", 20), peer:output())
    -- Before: about 30 s. lua_close waits 5 s at most for a close that makes no progress.
    assert.are.equal(0, peer:wait(10), "still closing after 10 s, or failed: " .. peer:output())
  end)
end)
