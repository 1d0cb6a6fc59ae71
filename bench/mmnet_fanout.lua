-- bench/mmnet_fanout.lua: many clients on one mmnet server in `make bench` (workloads 5 and 6).
-- The server waits for N connections, then broadcasts ROUNDS small tables, each stamped with
-- its wall-clock send time; the clients (N network.Client objects in one process, all served by
-- mmnet's one I/O thread) time how long until the last of them has each broadcast, and tell the
-- server to send the next one.
--
-- Thread: Lua thread of its own lua5.4 process (mmnet's I/O thread runs beside it).
--
-- Usage: lua5.4 bench/mmnet_fanout.lua server N ROUNDS   prints "PORT n", then connections,
--          bcast_call_ms_p50 (what one Broadcast call takes the script's thread: the writes are
--          the I/O thread's) and rss_kib_per_conn (server RSS growth / N, after the broadcasts)
--        lua5.4 bench/mmnet_fanout.lua clients PORT N ROUNDS
--          prints connect_s (all N connected), bcast_ms_p50, bcast_ms_max (send to last receipt)

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local network = require "mmnet"

local role = arg[1]
local now = common.now
local RECEIVE, CONNECT, CONNECTED = network.EVENT_RECEIVE, network.EVENT_CONNECT, network.EVENT_CONNECTED
network.Configure({EventQueueSize = 100000})

-- Polls until done() is true; fails after `limit` seconds.
local function poll_until(limit, handle, done)
  local deadline = now() + limit
  while not done() do
    if now() > deadline then error(role .. ": timed out") end
    local events = network.PollEvents(0.5)
    for i = 1, #events do handle(events[i]) end
  end
end

if role == "server" then
  local n, rounds = assert(tonumber(arg[2])), assert(tonumber(arg[3]))
  local server = assert(network.Server("127.0.0.1", 0))
  collectgarbage("collect")
  local rss0 = common.rss_kib()
  common.port(server:GetPort())
  local connections, round, calls = {}, 0, {}
  local function broadcast()
    round = round + 1
    local t = now()
    local count = server:Broadcast({OpCode = 12, Data = "From server", Seq = round, T = t})
    calls[round] = now() - t
    assert(count == n, "Broadcast reached " .. count .. " of " .. n)
  end
  poll_until(300, function(e)
    if e.Event == CONNECT then
      connections[#connections + 1] = e.Object
    elseif e.Event == RECEIVE then
      assert(e.Packet.Done == round, "clients finished an unknown round")
      if round < rounds then broadcast() else round = round + 1 end
    elseif e.Event ~= network.EVENT_CLIENT_CLOSE then
      error("server: event " .. e.Event .. ": " .. tostring(e.Errors))
    end
    if #connections == n and round == 0 then
      common.result("connections", server:ConnectionCount())
      broadcast()
    end
  end, function() return round > rounds end)
  table.sort(calls)
  common.result("bcast_call_ms_p50", string.format("%.3f", calls[math.max(1, #calls // 2)] * 1e3))
  -- After the broadcasts: whatever buffers the connections grew are counted too.
  common.result("rss_kib_per_conn", string.format("%.1f", (common.rss_kib() - rss0) / n))
  network.PollEvents(0.2)
  return
end

local port, n, rounds = assert(tonumber(arg[2])), assert(tonumber(arg[3])), assert(tonumber(arg[4]))
local clients, connected, t0 = {}, 0, now()
local got, latencies, round = 0, {}, 1
-- Broadcasts may come before this side has seen every EVENT_CONNECTED: one handler for both.
local function handle(e)
  if e.Event == CONNECTED then
    assert(e.Result, "a client failed to connect: " .. tostring(e.Errors))
    connected = connected + 1
    if connected == n then common.result("connect_s", string.format("%.3f", now() - t0)) end
  elseif e.Event == RECEIVE then
    local p = e.Packet
    assert(p.Seq == round, "broadcast out of order")
    got = got + 1
    if got == n then
      latencies[round] = now() - p.T
      got, round = 0, round + 1
      assert(clients[1]:Send({Done = round - 1}))
    end
  else
    error("clients: event " .. e.Event .. ": " .. tostring(e.Errors))
  end
end
for i = 1, n do
  clients[i] = assert(network.Client("127.0.0.1", port))
end
poll_until(300, handle, function() return round > rounds end)
table.sort(latencies)
common.result("bcast_ms_p50", string.format("%.2f", latencies[math.max(1, #latencies // 2)] * 1e3))
common.result("bcast_ms_max", string.format("%.2f", latencies[#latencies] * 1e3))
