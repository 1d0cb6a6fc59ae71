-- A peer process for deep_nesting_spec: tables nested DEPTH deep (MaxDepth set to DEPTH),
-- run under a small `ulimit -s` so that a decoder or encoder taking too much of the C stack
-- per level of nesting crashes it instead of passing.
--
--   lua5.4 deep.lua DEPTH all       Encode and Decode on the script's thread, then a message
--                                   from a raw peer received through PollEvents
--   lua5.4 deep.lua DEPTH network   the same message checked by the I/O thread only: the
--                                   script waits for server:GetStats().MessagesReceived and
--                                   never polls it (its own thread need not decode it)
--
-- Prints "OK" and exits 0 when everything went through; exit status 1 on any failure.
-- Everything is time-limited (10 s).
-- Thread: its own process's Lua thread.
local network = require "mmnet"
local socket = require "socket"

local depth = assert(tonumber(arg[1]), "depth")
local mode = arg[2]
network.Configure({ MaxDepth = depth })

local function fail(why)
  io.stderr:write("deep peer: ", tostring(why), "\n")
  os.exit(1)
end

-- DEPTH nested arrays around the integer 1: fixarray markers, then the integer.
local bytes = string.rep("\x91", depth) .. "\x01"

--- How deep `t` is (the table itself is 1), checking each level holds one element.
local function depth_of(t)
  local n = 0
  while type(t) == "table" do
    if #t ~= 1 then fail("a level with " .. #t .. " elements") end
    n, t = n + 1, t[1]
  end
  if t ~= 1 then fail("innermost value " .. tostring(t)) end
  return n
end

if mode == "all" then
  local t = 1
  for _ = 1, depth do t = { t } end
  local encoded, why = network.Encode(t)
  if encoded ~= bytes then fail("Encode: " .. tostring(why)) end
  local decoded, problem = network.Decode(bytes)
  if not decoded or depth_of(decoded) ~= depth then fail("Decode: " .. tostring(problem)) end
end

local server = assert(network.Server("127.0.0.1", 0))
local raw = assert(socket.tcp())
raw:settimeout(5)
assert(raw:connect("127.0.0.1", server:GetPort()))
-- mmnet's hello, then one message frame (4-byte length, type 0).
assert(raw:send("MMNT\1\0\0\0" .. string.pack(">I4B", #bytes, 0) .. bytes))

local deadline = socket.gettime() + 10
while socket.gettime() < deadline do
  if mode == "all" then
    for _, e in ipairs(network.PollEvents(0.05)) do
      if e.Event == network.EVENT_RECEIVE then
        if depth_of(e.Packet) ~= depth then fail("received a different depth") end
        print("OK")
        os.exit(0)
      elseif e.Event ~= network.EVENT_CONNECT then
        fail("event " .. e.Event .. ": " .. tostring(e.Errors))
      end
    end
  else
    if server:GetStats().MessagesReceived == 1 then
      print("OK")
      os.exit(0)
    end
    socket.sleep(0.01)
  end
end
fail("no message within 10 s")
