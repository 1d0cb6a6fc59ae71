-- bench/luasocket_recv.lua: the receiving side of the LuaSocket + lua-cjson contender in
-- `make bench`: what a Lua scripter writes by hand. Frames are a 4-byte big-endian length and a
-- JSON body; it takes COUNT messages from one client, checking each sequence number, or echoes
-- them (kind echo).
--
-- Thread: single-threaded lua5.4 process.
--
-- Usage: lua5.4 bench/luasocket_recv.lua KIND COUNT SIZE
-- Prints "PORT n", then t_end (wall seconds at the last message) and rss_kib.

package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local socket = require "socket"
local cjson = require "cjson"

local a = common.args(arg, false)
local listener = assert(socket.bind("127.0.0.1", 0))
local _, port = listener:getsockname()
common.port(port)
listener:settimeout(30)
local conn = assert(listener:accept())
conn:setoption("tcp-nodelay", true)
conn:settimeout(30)

local decode, encode, unpack, pack = cjson.decode, cjson.encode, string.unpack, string.pack
local check, kind, size, echo = common.check, a.kind, a.size, a.kind == "echo"
local bulk = kind == "bulk"
for expect = 1, a.count do
  local head = assert(conn:receive(4))
  local body = assert(conn:receive((unpack(">I4", head))))
  local packet = decode(body)
  if packet.Seq ~= expect or (bulk and #packet.Data ~= size) then check(packet, expect, kind, size) end
  if echo then
    local reply = encode(packet)
    assert(conn:send(pack(">s4", reply)))
  end
end
common.result("t_end", string.format("%.6f", common.now()))
common.result("rss_kib", common.rss_kib())
conn:close()
