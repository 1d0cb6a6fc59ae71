-- bench/luasocket_send.lua: the sending side of the LuaSocket + lua-cjson contender in
-- `make bench`: COUNT messages one way, sent in batches of frames (one send per batch, as a
-- careful user would), or COUNT ping-pong round trips (kind ping).
--
-- Thread: single-threaded lua5.4 process.
--
-- Usage: lua5.4 bench/luasocket_send.lua KIND PORT COUNT SIZE
-- Prints t_start (wall seconds before the first send), or rtt_p50_us and rtt_p99_us.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local socket = require "socket"
local cjson = require "cjson"

local a = common.args(arg, true)
local conn = assert(socket.connect("127.0.0.1", a.port))
conn:setoption("tcp-nodelay", true)
conn:settimeout(30)
local encode, decode, pack, unpack = cjson.encode, cjson.decode, string.pack, string.unpack
local now = common.now

if a.kind == "ping" then
  local rtts = {}
  for i = 1, a.count do
    local t0 = now()
    assert(conn:send(pack(">s4", encode({OpCode = 10, Data = "From client", Seq = i}))))
    local head = assert(conn:receive(4))
    local body = assert(conn:receive((unpack(">I4", head))))
    local reply = decode(body)
    assert(reply.Seq == i, "echo out of order")
    rtts[i] = now() - t0
  end
  common.report_rtt(rtts)
  return
end

-- Batches of about 64 KiB (at least one message) per send.
local message, payload, kind = common.message, common.payload(a.size), a.kind
local batch = math.max(1, math.min(256, 65536 // (a.size + 40)))
local frames = {}
common.result("t_start", string.format("%.6f", now()))
for i = 1, a.count do
  frames[#frames + 1] = pack(">s4", encode(message(kind, i, payload)))
  if #frames == batch or i == a.count then
    assert(conn:send(table.concat(frames)))
    frames = {}
  end
end
-- Wait for the receiver to close: it has everything then.
conn:settimeout(120)
conn:receive(1)
conn:close()
