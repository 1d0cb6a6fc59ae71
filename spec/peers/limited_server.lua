-- A peer process for the specs: an echo server in a process with an address-space limit
-- (RLIMIT_AS), set once mmnet is loaded and the server listens, so that a hostile peer's
-- declared lengths, or a message larger than the memory left, would make malloc fail here.
--
--   lua5.4 limited_server.lua HEADROOM_MIB
--
-- Configures MaxMessageSize = 1 GiB, limits its address space to what it uses plus
-- HEADROOM_MIB, then prints "PORT <port>". Sends every message it receives back to its sender;
-- prints "ERROR <text>" for each EVENT_ERROR; ends after 60 s or when its stdin closes.
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local headroom = assert(tonumber(arg[1]), "headroom in MiB")

--- A line of /proc/self/status, in KiB.
local function status_kib(field)
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return assert(tonumber(text:match(field .. ":%s*(%d+) kB")), field)
end

network.Configure({ MaxMessageSize = 1 << 30, QueueFull = "wait" })
local server = assert(network.Server("127.0.0.1", 0))
local f = assert(io.open("/proc/self/stat"))
local pid = assert(f:read("n"))
f:close()
local limit = (status_kib("VmSize") + headroom * 1024) * 1024
assert(os.execute("prlimit --pid " .. pid .. " --as=" .. limit), "prlimit failed")
print("PORT " .. server:GetPort())
io.stdout:flush()

local clients = {}  -- held, so that none is closed by the garbage collector
local deadline = os.time() + 60
while os.time() < deadline do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_CONNECT then
      clients[e.Object] = true
    elseif e.Event == network.EVENT_CLIENT_CLOSE then
      clients[e.Object] = nil
    elseif e.Event == network.EVENT_RECEIVE then
      server:Send(e.Packet, e.Object)
    elseif e.Event == network.EVENT_ERROR then
      print("ERROR " .. tostring(e.Errors))
      io.stdout:flush()
    end
  end
end
