-- bench/luv_recv.lua: the receiving side of the luv (libuv) + lua-cjson contender in
-- `make bench`, event-driven: a TCP server that takes COUNT length-prefixed JSON messages from
-- one client, checking each sequence number, or echoes them (kind echo).
--
-- Thread: single-threaded lua5.4 process running a luv loop.
--
-- Usage: lua5.4 bench/luv_recv.lua KIND COUNT SIZE
-- Prints "PORT n", then t_end (wall seconds at the last message) and rss_kib.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local uv = require "luv"
local cjson = require "cjson"
local reader = require "luv_frames"

local a = common.args(arg, false)
local check, kind, size, echo = common.check, a.kind, a.size, a.kind == "echo"
local bulk = kind == "bulk"
local encode, pack = cjson.encode, string.pack
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", 0))
local expect = 1
assert(server:listen(16, function(err)
  assert(not err, err)
  local conn = uv.new_tcp()
  server:accept(conn)
  conn:nodelay(true)
  local feed = reader(function(packet)
    if packet.Seq ~= expect or (bulk and #packet.Data ~= size) then check(packet, expect, kind, size) end
    expect = expect + 1
    if echo then conn:write(pack(">s4", encode(packet))) end
    if expect > a.count then
      common.result("t_end", string.format("%.6f", common.now()))
      common.result("rss_kib", common.rss_kib())
      conn:read_stop()
      conn:shutdown(function() conn:close(); server:close() end)
    end
  end)
  conn:read_start(function(rerr, chunk)
    assert(not rerr, rerr)
    if chunk then feed(chunk) else conn:close(); server:close() end
  end)
end))
-- Announced only now that it listens: a sender told earlier could be refused.
common.port(server:getsockname().port)
local timer = uv.new_timer()
timer:start(120000, 0, function() error("luv receiver: timed out") end)
timer:unref()
uv.run()
assert(expect > a.count, "connection closed before every message came")
