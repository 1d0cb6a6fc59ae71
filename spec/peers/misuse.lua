-- A peer process for misuse_spec: a script that misuses the API in one way (CASE), in a
-- process of its own, since before the fixes each of these crashed or hung its process.
--
--   lua5.4 misuse.lua CASE
--
--   foreign_gc    the objects' and the sentinel's __gc called with other userdata (files)
--   gc_in_send    finalizers that call a client's __gc by hand while client:Send runs
--   finalizer_edits  finalizers that edit the table being sent while client:Send runs
--
-- Prints "OK" and a summary when all went as it should; raises otherwise (exit 1).
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local case = assert(arg[1], "CASE")

--- Makes 20 objects whose finalizers call `f`, then GC debt without a collection step (a
-- table grown by raw sets), so that the next allocation with a GC check runs them. The
-- generational mode runs every pending finalizer at each step.
local function arm(f)
  for _ = 1, 20 do setmetatable({}, { __gc = f }) end
  local t = {}
  for i = 1, 200000 do t[i] = i end
end

--- A table holding a string that Send lends (64 KiB or more) 10 levels down: encoding it
-- makes Lua grow the stack, where it may take a collection step.
local function deep(inner)
  local msg = inner
  for _ = 1, 10 do msg = { msg } end
  return msg
end

if case == "foreign_gc" then
  local server = assert(network.Server("127.0.0.1", 0))
  local file = assert(io.tmpfile())
  getmetatable(server).__gc(file)
  getmetatable(server).__gc(io.stdout)
  debug.getregistry()["mmnet.State"].__gc(file)
  assert(file:write("still a file"))
  assert(file:seek("set"))
  assert(file:read("a") == "still a file")
  assert(server:GetPort() > 0)
  print("OK")
elseif case == "light_self" then
  -- A light userdata given an object's metatable (the debug library allows it) is no object:
  -- its methods and finalizers raise or do nothing (before: SIGSEGV).
  local server = assert(network.Server("127.0.0.1", 0))
  local mt = getmetatable(server)
  local light = debug.upvalueid(function() return server end, 1)
  debug.setmetatable(light, mt)
  assert(not pcall(mt.__index.GetPort, light))
  assert(not pcall(function() return light:GetPort() end))
  mt.__gc(light)
  mt.__close(light)
  debug.setmetatable(light, nil)
  assert(server:GetPort() > 0)
  print("OK")
elseif case == "gc_in_send" then
  collectgarbage("generational")
  local tmp = assert(network.Server("127.0.0.1", 0))
  local port = tmp:GetPort()
  getmetatable(tmp).__gc(tmp)  -- nobody listens there: each client fails at once
  local victim
  for _ = 1, 200 do
    local client = assert(network.Client("127.0.0.1", port))
    client:WaitForConnect(1)
    network.PollEvents(0)  -- its EVENT_CONNECTED held the connection: now only the client does
    victim = client
    local msg = deep({ string.rep("x", 70000) })
    coroutine.wrap(function()
      arm(function()
        if victim then local v = victim; victim = nil; getmetatable(v).__gc(v) end
      end)
      -- Sent, or refused as sent by a client already collected ("bad self"): either way, no
      -- crash.
      local ok, why = pcall(client.Send, client, msg)
      assert(ok or tostring(why):find("bad self", 1, true), why)
    end)()
    victim = nil
    for _ = 1, 20 do network.Client("127.0.0.1", port) end  -- fresh objects into freed memory
  end
  print("OK")
elseif case == "finalizer_edits" then
  collectgarbage("generational")
  local server = assert(network.Server("127.0.0.1", 0))
  local client = assert(network.Client("127.0.0.1", server:GetPort()))
  assert(client:WaitForConnect(5))
  local rounds, received, refused, held = 200, 0, {}, {}
  local function poll(timeout)
    for _, e in ipairs(network.PollEvents(timeout)) do
      if e.Event == network.EVENT_RECEIVE then received = received + 1
      elseif e.Event == network.EVENT_CONNECT then held[#held + 1] = e.Object  -- not collected
      elseif e.Event ~= network.EVENT_CONNECTED then refused[#refused + 1] = e.Errors end
    end
  end
  for round = 1, rounds do
    local target = { string.rep("x", 70000) }  -- [1], walked first, then the keys below
    for j = 1, 30 do target["k" .. j] = j end
    local armed, msg = true, deep(target)
    local ok, sent, problem = pcall(coroutine.wrap(function()
      arm(function()
        if armed then
          armed = false
          for j = 1, 30 do target["k" .. j] = nil end     -- fewer pairs than counted
          for j = 1, 200 do target["n" .. j] = j end      -- and a rehash under lua_next
        end
      end)
      return client:Send(msg)
    end))
    assert(ok and sent == true, "Send, round " .. round .. ": " .. tostring(sent) .. " " .. tostring(problem))
    poll(0)
  end
  local deadline = socket.gettime() + 10
  while received + #refused < rounds and socket.gettime() < deadline do poll(0.05) end
  assert(#refused == 0, "refused: " .. tostring(refused[1]))
  assert(received == rounds, "received " .. received .. " of " .. rounds)
  print("OK " .. received .. " received")
else
  error("unknown case " .. case)
end
io.stdout:flush()
