-- bench/luv_send.lua: the sending side of the luv (libuv) + lua-cjson contender in
-- `make bench`, event-driven: COUNT messages one way, written in batches while libuv's write
-- queue is short (backpressure through the write callbacks), or COUNT ping-pong round trips.
--
-- Thread: single-threaded lua5.4 process running a luv loop.
--
-- Usage: lua5.4 bench/luv_send.lua KIND PORT COUNT SIZE
-- Prints t_start (wall seconds before the first send), or rtt_p50_us and rtt_p99_us.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local uv = require "luv"
local cjson = require "cjson"
local reader = require "luv_frames"

local a = common.args(arg, true)
local encode, pack, now = cjson.encode, string.pack, common.now
local conn = uv.new_tcp()
local rtts = {}

local function ping(i)
  rtts.t0 = now()
  conn:write(pack(">s4", encode({OpCode = 10, Data = "From client", Seq = i})))
end

local message, payload, kind = common.message, common.payload(a.size), a.kind
local batch = math.max(1, math.min(256, 65536 // (a.size + 40)))
local HIGH = 4 * 1024 * 1024
local sent = 0
local pump
local function written(err) assert(not err, err); if sent < a.count then pump() end end
-- Writes batches until everything is queued or libuv holds more than HIGH bytes unwritten.
function pump()
  while sent < a.count and conn:get_write_queue_size() < HIGH do
    local frames = {}
    for _ = 1, math.min(batch, a.count - sent) do
      sent = sent + 1
      frames[#frames + 1] = pack(">s4", encode(message(kind, sent, payload)))
    end
    conn:write(frames, sent < a.count and written or nil)
  end
end

conn:connect("127.0.0.1", a.port, function(err)
  assert(not err, err)
  conn:nodelay(true)
  if kind == "ping" then
    local i = 1
    conn:read_start(function(rerr, chunk)
      assert(not rerr, rerr)
      assert(chunk, "receiver closed early")
      return rtts.feed(chunk)
    end)
    rtts.feed = reader(function(reply)
      assert(reply.Seq == i, "echo out of order")
      rtts[i] = now() - rtts.t0
      i = i + 1
      if i <= a.count then ping(i) else conn:read_stop(); conn:close() end
    end)
    ping(1)
  else
    common.result("t_start", string.format("%.6f", now()))
    conn:read_start(function(_, chunk) if not chunk then conn:close() end end)
    pump()
  end
end)
uv.run()
if kind == "ping" then common.report_rtt(rtts) end
