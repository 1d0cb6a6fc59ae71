-- bench/mmnet_recv.lua: the receiving side of mmnet in `make bench`: a server that takes COUNT
-- messages from one client, checking each sequence number (kinds small and bulk), or echoes
-- them back (kind echo, for the ping-pong). QueueFull = "wait": nothing may be lost.
--
-- Thread: Lua thread of its own lua5.4 process (mmnet's I/O thread runs beside it).
--
-- Usage: lua5.4 bench/mmnet_recv.lua KIND COUNT SIZE [KEY]
-- Prints "PORT n", then t_end (wall seconds at the last message) and rss_kib.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local network = require "mmnet"
-- BENCH_SPIN_WAIT: a SpinWait setting to run with (bench/run.lua compares 0 with the default).
if os.getenv("BENCH_SPIN_WAIT") then network.Configure({SpinWait = tonumber(os.getenv("BENCH_SPIN_WAIT"))}) end

local a = common.args(arg, false)
network.Configure({QueueFull = "wait"})
local server, why = network.Server("127.0.0.1", 0, a.key)
if not server then
  common.result("error", why)
  os.exit(3)
end
common.port(server:GetPort())

local RECEIVE, CONNECT = network.EVENT_RECEIVE, network.EVENT_CONNECT
local check, kind, size, echo = common.check, a.kind, a.size, a.kind == "echo"
local bulk = kind == "bulk"
local connections, expect, idle, polls = {}, 1, 0, 0
while expect <= a.count do
  local events = network.PollEvents(1)
  polls = polls + 1
  if #events == 0 then
    idle = idle + 1
    if idle > 30 then error("no message for 30 s; expected Seq " .. expect) end
  else
    idle = 0
  end
  for i = 1, #events do
    local e = events[i]
    local ev = e.Event
    if ev == RECEIVE then
      local packet = e.Packet
      if packet.Seq ~= expect or (bulk and #packet.Data ~= size) then check(packet, expect, kind, size) end
      expect = expect + 1
      if echo then server:Send(packet, e.Object) end
    elseif ev == CONNECT then
      connections[#connections + 1] = e.Object
    elseif ev ~= network.EVENT_CLIENT_CLOSE then
      error("unexpected event " .. tostring(ev) .. ": " .. tostring(e.Errors))
    end
  end
end
common.result("t_end", string.format("%.6f", common.now()))
common.result("rss_kib", common.rss_kib())
common.result("polls", polls)
if echo then network.PollEvents(0.2) end -- let the last echo go out before closing
