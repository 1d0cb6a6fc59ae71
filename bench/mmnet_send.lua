-- bench/mmnet_send.lua: the sending side of mmnet in `make bench`: COUNT messages one way
-- (kinds small and bulk; a full send queue is waited out with PollEvents(0.001) and the message
-- sent again, never dropped), or COUNT ping-pong round trips (kind ping).
--
-- Thread: Lua thread of its own lua5.4 process (mmnet's I/O thread runs beside it).
--
-- Usage: lua5.4 bench/mmnet_send.lua KIND PORT COUNT SIZE [KEY]
-- Prints t_start (wall seconds before the first send), or rtt_p50_us and rtt_p99_us.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local network = require "mmnet"
-- BENCH_SPIN_WAIT: a SpinWait setting to run with (bench/run.lua compares 0 with the default).
if os.getenv("BENCH_SPIN_WAIT") then network.Configure({SpinWait = tonumber(os.getenv("BENCH_SPIN_WAIT"))}) end

local a = common.args(arg, true)
local client, why = network.Client("127.0.0.1", a.port, a.key)
if not client then
  common.result("error", why)
  os.exit(3)
end
local ok, _, reason = client:WaitForConnect(5)
assert(ok, "not connected: " .. tostring(reason))
network.PollEvents(0) -- the EVENT_CONNECTED

local now, RECEIVE = common.now, network.EVENT_RECEIVE
if a.kind == "ping" then
  local rtts = {}
  for i = 1, a.count do
    local t0 = now()
    assert(client:Send({OpCode = 10, Data = "From client", Seq = i}))
    local got = false
    repeat
      local events = network.PollEvents(5)
      assert(#events > 0, "no echo within 5 s")
      for j = 1, #events do
        local e = events[j]
        if e.Event == RECEIVE then
          assert(e.Packet.Seq == i, "echo out of order")
          got = true
        end
      end
    until got
    rtts[i] = now() - t0
  end
  common.report_rtt(rtts)
  return
end

local message, payload, kind = common.message, common.payload(a.size), a.kind
local send, poll = client.Send, network.PollEvents
local waits = 0
common.result("t_start", string.format("%.6f", now()))
for i = 1, a.count do
  local m = message(kind, i, payload)
  while true do
    local sent, problem = send(client, m)
    if sent then break end
    if not problem:find("queue full", 1, true) then error("Send failed: " .. problem) end
    waits = waits + 1
    poll(0.001)
  end
end
common.result("t_sent", string.format("%.6f", now()))
-- Wait until the receiver has everything and closes (our Disconnect would flush too, but the
-- process must not exit before the I/O thread has written it all).
local deadline = now() + 120
repeat
  local closed = false
  for _, e in ipairs(poll(0.5)) do
    if e.Event == network.EVENT_SERVER_CLOSE then closed = true end
  end
until closed or now() > deadline
common.result("send_waits", waits)
