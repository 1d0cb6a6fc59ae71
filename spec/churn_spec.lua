-- Churn (issue 8): 19,000 connect/send/disconnect cycles against one server, 50 at a time,
-- half closed by the client and half by the server; afterwards no descriptor or memory growth
-- (this process holds both ends, so /proc/self/fd counts both) and ConnectionCount back to 0.
--
-- Thread: the busted process's Lua thread only.
local net = require "nethelper"
local resources = require "resources"
local network = net.network

-- A warm-up first: the process's RSS rises for about 10,000 cycles to a plateau (3.5 to 5.9
-- MiB above where it stands after 1,000, in this process only: in the C test host, whose
-- allocator counts its blocks, mmnet's heap in use grew by 130 KiB), then the cycles measured.
local WARMUP = 10000
local CYCLES = WARMUP + (tonumber(os.getenv("MMNET_CHURN_CYCLES")) or 9000)
local BATCH = 50

describe("churn", function()
  before_each(net.reset)
  after_each(net.reset)

  it("19,000 connect/send/disconnect cycles leave no descriptors, memory or connections behind", function()
    local server = assert(network.Server("127.0.0.1", 0))
    local port = server:GetPort()

    --- Waits for `n` events of `kind` (about any object); returns them.
    local function expect(kind, n, seconds)
      local got = {}
      local deadline = net.now() + (seconds or 10)
      while #got < n do
        local e = net.take({ Event = kind })
        if e then
          got[#got + 1] = e
        else
          assert(net.now() < deadline, "waiting for " .. n .. " x " .. net.names[kind] .. ", got " ..
            #got .. "; " .. net.describe_pending())
          net.pump(0.05)
        end
      end
      return got
    end

    --- One batch: BATCH clients connect, each sends one message the server checks, then the
    -- even ones disconnect themselves and the server disconnects the odd ones.
    local function batch(first)
      local clients = {}
      for i = 1, BATCH do clients[i] = assert(network.Client("127.0.0.1", port)) end
      for _, e in ipairs(expect(network.EVENT_CONNECTED, BATCH)) do assert.is_true(e.Result, e.Errors) end
      -- Hold the server's ClientConnections: one that is garbage collected closes.
      local held = expect(network.EVENT_CONNECT, BATCH)
      for i, client in ipairs(clients) do assert.is_true(client:Send({ n = first + i })) end
      local from = {}
      for _, e in ipairs(expect(network.EVENT_RECEIVE, BATCH)) do from[e.Packet.n - first] = e.Object end
      for i = 1, BATCH do
        assert.is_truthy(from[i], "message " .. (first + i) .. " missing")
        if i % 2 == 0 then clients[i]:Disconnect() else assert.are.equal(1, server:Disconnect(from[i])) end
      end
      expect(network.EVENT_CLIENT_CLOSE, BATCH / 2)
      expect(network.EVENT_SERVER_CLOSE, BATCH / 2)
      assert.are.equal(BATCH, #held)
    end

    -- The warm-up (allocators and tables reach their working size), then measure.
    local done = 0
    while done < WARMUP do batch(done); done = done + BATCH end
    local deadline = net.now() + 5
    while server:ConnectionCount() > 0 and net.now() < deadline do net.pump(0.02) end
    local fds, rss = resources.settled_fd_count(), resources.settled_rss_kb()
    local start = net.now()
    while done < CYCLES do batch(done); done = done + BATCH end
    local took = net.now() - start
    deadline = net.now() + 5
    while (server:ConnectionCount() > 0 or network.GetStats().Connections > 0) and net.now() < deadline do
      net.pump(0.02)
    end
    local fds_after = resources.wait_fd_count(fds, 5)
    local grown = resources.settled_rss_kb() - rss
    print(string.format("\n  churn: %d cycles (%d measured in %.1f s, %.0f/s), descriptors %d -> %d, RSS %+d KiB",
      done, CYCLES - WARMUP, took, (CYCLES - WARMUP) / took, fds, fds_after, grown))
    assert.are.equal(CYCLES, done)
    assert.are.equal(0, server:ConnectionCount())
    assert.are.equal(0, network.GetStats().Connections)
    assert.are.equal(fds, fds_after)
    resources.assert_rss_growth(grown, 4 * 1024, "over " .. (CYCLES - WARMUP) .. " cycles")
    -- The server still accepts.
    local _, client, c = net.pair(server)
    assert.is_true(client:Send({ "after churn" }))
    assert.are.same({ "after churn" }, assert(net.wait_kind(network.EVENT_RECEIVE, c, 5)).Packet)
  end)
end)
