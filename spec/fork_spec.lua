-- fork() after require "mmnet" (a pre-fork server, a host that forks workers): the child
-- inherits the parent's servers and connections but not the I/O thread. mmnet's part of the
-- bargain: the child closes its copies of mmnet's descriptors at once (the parent's peers and
-- ports behave as if the child did not exist), every object of the parent's raises a clear
-- error when the child uses it (before: a Send wrote into the parent's stream and broke it),
-- closing the state in the child returns at once (before: it waited for ever for the parent's
-- I/O thread), and the child's own new servers and clients work, in the same state or a new
-- one. Runs the C test host (tests/host/host.c), whose HOST table gives the script fork(2).
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- Runs `chunk` in the test host and asserts that it exits 0 having printed `marker`.
local function assert_host_prints(marker, chunk, args)
  local ok, code, out = helper.run(helper.tree_env() .. " " .. helper.quote(helper.host) .. " " ..
    (args or "") .. " -e " .. helper.quote(chunk), 60)
  assert.is_true(ok, "exit " .. tostring(code) .. ": " .. out)
  assert.is_truthy(out:find(marker, 1, true), out)
end

--- Lua source shared by the chunks: a server and a client of it, connected, in one state.
local PAIR = [[
  local network = require "mmnet"
  local function pair()
    local server = assert(network.Server("127.0.0.1", 0))
    local client = assert(network.Client("127.0.0.1", server:GetPort()))
    assert(client:WaitForConnect(5))
    for _ = 1, 100 do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_CONNECT then return server, client, e.Object end
      end
    end
    error("no EVENT_CONNECT")
  end
  --- The packets received by `from` until `count` arrived (5 s at most); errors are raised.
  local function receive(from, count)
    local got = {}
    for _ = 1, 100 do
      for _, e in ipairs(network.PollEvents(0.05)) do
        if e.Event == network.EVENT_RECEIVE and e.Object == from then got[#got + 1] = e.Packet
        elseif e.Event == network.EVENT_ERROR or e.Event == network.EVENT_CLIENT_CLOSE then
          error("event " .. e.Event .. ": " .. tostring(e.Errors))
        end
      end
      if #got >= count then return got end
    end
    error("received " .. #got .. " of " .. count)
  end
]]

--- True, the test marked pending, under a sanitizer. ThreadSanitizer kills a child of a
-- multithreaded process that starts a thread, as the child's own I/O thread must ("starting
-- new threads after multi-threaded fork is not supported"). Under AddressSanitizer (a debug
-- build on the shared Swift runtime) a child hung in 9 runs of 30 with both its threads waiting
-- in the runtime's `once_slow` for a generic type's first metadata (2026-12-06, not understood
-- yet); the shipping build (release, runtime linked statically) passed 40 of 40 and 600 forks
-- with a busy I/O thread. `make test` runs these.
local function unsupported()
  if not helper.sanitizer then return false end
  pending("fork() children under the " .. helper.sanitizer .. " sanitizer: see fork_spec.lua")
  return true
end

describe("fork() after require \"mmnet\"", function()

  it("leaves the parent's links whole: the child's use of its objects raises, its close returns at once", function()
    if unsupported() then return end
    assert_host_prints("PARENT GOT 1,2,3,4", PAIR .. [[
      -- Large messages still queued at the fork: the server side reads one, then no more.
      network.Configure({ EventQueueBytes = 1024 })
      local server, client, connection = pair()
      local blob = string.rep("b", 4 * 1024 * 1024)
      for i = 1, 3 do assert(client:Send({ i = i, blob = blob })) end
      local pid = HOST.fork()
      if pid == 0 then
        local sent, why = pcall(client.Send, client, { i = 99 })
        assert(not sent and why:find("opened before fork()", 1, true), tostring(why))
        assert(not pcall(server.Broadcast, server, { i = 99 }))
        assert(not pcall(connection.GetStats, connection))
        assert(#network.PollEvents(0.1) == 0, "the parent's events reached the child")
        return  -- the host closes this state: it must not wait for the parent's I/O thread
      end
      assert(HOST.wait(pid, 10) == "exit 0", "the child did not end in time")
      assert(client:Send({ i = 4 }))
      local got = receive(connection, 4)
      for i = 1, 4 do
        assert(got[i].i == i, "message " .. i .. " is " .. tostring(got[i].i))
        if i < 4 then assert(got[i].blob == blob, "blob " .. i .. " damaged") end
      end
      print("PARENT GOT 1,2,3,4")
    ]])
  end)

  it("gives the child servers and clients of its own, in the same state", function()
    if unsupported() then return end
    assert_host_prints("CHILD SERVED", PAIR .. [[
      local server, client = pair()
      network.Configure({ MaxDepth = 10 })
      local pid = HOST.fork()
      if pid == 0 then
        assert(network.Configure().MaxDepth == 10, "the settings were not kept")
        local s2, c2, conn2 = pair()
        assert(c2:Send({ hello = "from the child" }))
        assert(receive(conn2, 1)[1].hello == "from the child")
        assert(network.GetStats().Connections == 2, "the child counts the parent's connections")
        print("CHILD SERVED")
        return
      end
      assert(HOST.wait(pid, 10) == "exit 0", "the child failed")
    ]])
  end)

  it("keeps the number of the event descriptor, now the child's own", function()
    if unsupported() then return end
    assert_host_prints("CHILD WOKEN", PAIR .. [[
      local fd = assert(network.GetEventDescriptor())
      local pid = HOST.fork()
      if pid == 0 then
        assert(#network.PollEvents(0) == 0)
        assert(network.GetEventDescriptor() == fd, "a new number: " .. tostring(network.GetEventDescriptor()))
        assert(not HOST.readable(fd, 0), "readable with no event")
        local server, client, connection = pair()
        assert(client:Send({ n = 1 }))
        assert(HOST.readable(fd, 5), "no wake-up for the child's event")
        print("CHILD WOKEN")
        return
      end
      assert(HOST.wait(pid, 10) == "exit 0", "the child failed")
    ]])
  end)

  it("closes the child's copies of the descriptors: a server the parent closes refuses connections", function()
    if unsupported() then return end
    assert_host_prints("REFUSED", PAIR .. [[
      local server = assert(network.Server("127.0.0.1", 0))
      local port = server:GetPort()
      local pid = HOST.fork()
      if pid == 0 then
        HOST.readable(-1, 3)  -- stays alive, holding what it inherited
        HOST.exit(0)
      end
      server = nil
      collectgarbage()
      network.PollEvents(0.2)
      local client = assert(network.Client("127.0.0.1", port))
      local connected, _, why = client:WaitForConnect(2)
      assert(not connected and tostring(why):find("refused"), "connected to a closed server: " .. tostring(why))
      print("REFUSED")
      assert(HOST.wait(pid, 10) == "exit 0")
    ]])
  end)

  it("works after the library was unloaded, and in a state the child opens", function()
    if unsupported() then return end
    -- Round 1 loads mmnet, which watches forks, and unloads it at its lua_close (the handler
    -- goes with the library); round 2 forks before loading it, and the child loads it anew.
    assert_host_prints("CHILD OF ROUND 2 SERVED", [[
      if ROUND == 1 then
        local network = require "mmnet"
        assert(network.Server("127.0.0.1", 0))
        return
      end
      local pid = HOST.fork()
      if pid == 0 then
        local network = require "mmnet"
        local server = assert(network.Server("127.0.0.1", 0))
        local client = assert(network.Client("127.0.0.1", server:GetPort()))
        assert(client:WaitForConnect(5))
        HOST.exit(7)
      end
      assert(HOST.wait(pid, 10) == "exit 7", "the child failed")
      print("CHILD OF ROUND 2 SERVED")
    ]], "--rounds 2")
  end)

  -- Found by the review of hooks (2026-12-07): the child's first mmnet call reopened its state
  -- in the middle of the parent's PollEvents building its tables, and emptied the events the
  -- build was reading: the child trapped (SIGILL, 2 runs of 2).
  it("lets a hook fork while PollEvents builds its tables", function()
    if unsupported() then return end
    assert_host_prints("PARENT BUILT 2 AND THE CHILD TOO", PAIR .. [[
      local server, client, c = pair()
      assert(client:Send({ 1 }) and server:Send({ 2 }, c))
      local deadline = os.time() + 5
      while network.GetStats().EventsQueued < 2 and os.time() < deadline do end
      local calls, child, pid = 0, false, nil
      local skip = { [network.PollEvents] = true, [debug.sethook] = true, [pcall] = true }
      debug.sethook(function()
        if skip[debug.getinfo(2, "f").func] then return end
        calls = calls + 1
        if calls == 1 then  -- the build's first protected call
          pid = HOST.fork()
          if pid == 0 then
            child = true
            network.GetStats()  -- the child's first call
          end
        end
      end, "c")
      local ok, events = pcall(network.PollEvents)
      debug.sethook()
      assert(ok, events)
      if child then HOST.exit(#events == 2 and 0 or 3) end
      assert(#events == 2, #events .. " events")
      assert(HOST.wait(pid, 10) == "exit 0", "the child failed")
      print("PARENT BUILT 2 AND THE CHILD TOO")
    ]])
  end)
end)
