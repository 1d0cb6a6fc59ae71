-- bench/common.lua: what every Lua contender of `make bench` shares: the wall clock (so that a
-- sender's start and a receiver's end, in two processes, can be subtracted), the messages of
-- each workload, their checks, percentiles and the key=value result lines the driver reads.
--
-- Thread: the Lua thread of each benchmark process.

assert(_VERSION == "Lua 5.4", "run with lua5.4, not " .. _VERSION)
local socket = require "socket"

local common = {}

--- Wall-clock seconds (gettimeofday, microseconds): comparable between processes.
common.now = socket.gettime

--- Prints a result line `key=value` for the driver, at once.
function common.result(key, value)
  io.stdout:write(key, "=", tostring(value), "\n")
  io.stdout:flush()
end

--- Announces the port a receiver listens on (the driver waits for this line).
function common.port(port)
  io.stdout:write("PORT ", tostring(port), "\n")
  io.stdout:flush()
end

--- Parses the common arguments: KIND (small | bulk | echo | ping), then numbers, then a key.
-- @return table {kind, port, count, size, key}
function common.args(arg, with_port)
  local a = {kind = assert(arg[1], "KIND missing")}
  local i = 2
  if with_port then a.port = assert(tonumber(arg[i]), "PORT missing"); i = i + 1 end
  a.count = assert(tonumber(arg[i]), "COUNT missing")
  a.size = tonumber(arg[i + 1]) or 0
  a.key = arg[i + 2] ~= "" and arg[i + 2] or nil
  return a
end

--- The payload string of a bulk message of `size` bytes.
function common.payload(size)
  return string.rep("x", size)
end

--- The i-th message of a workload: the small table of the issue, or a bulk one.
function common.message(kind, i, payload)
  if kind == "bulk" then return {OpCode = 11, Data = payload, Seq = i} end
  return {OpCode = 10, Data = "From client", Seq = i}
end

--- Raises, saying what is wrong, about a received message that is not the one expected.
-- Receivers test `packet.Seq ~= expect or (bulk and #packet.Data ~= size)` inline, as the
-- ceiling's loop does, and call this only on a mismatch: a Lua function call per message
-- would weigh on the contenders and not on the ceiling.
function common.check(packet, expect, kind, size)
  if type(packet) ~= "table" or packet.Seq ~= expect then
    error(string.format("out of order or lost: expected Seq %d, got %s", expect,
      type(packet) == "table" and tostring(packet.Seq) or type(packet)))
  end
  if kind == "bulk" and #packet.Data ~= size then
    error(string.format("message %d: %d bytes of Data, expected %d", expect, #packet.Data, size))
  end
end

--- Prints the p50 and p99 of a list of round-trip times (seconds), in microseconds; the first
-- tenth is warm-up and left out.
function common.report_rtt(rtts)
  local kept = {}
  for i = math.floor(#rtts / 10) + 1, #rtts do kept[#kept + 1] = rtts[i] end
  table.sort(kept)
  common.result("rtt_p50_us", string.format("%.2f", kept[math.max(1, math.floor(#kept * 0.5))] * 1e6))
  common.result("rtt_p99_us", string.format("%.2f", kept[math.max(1, math.floor(#kept * 0.99))] * 1e6))
end

--- The resident memory of this process, in KiB (from /proc/self/status).
function common.rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s+(%d+)")) or 0
end

return common
