-- A peer process for the specs: a client that connects to 127.0.0.1:PORT and sends COUNT
-- messages { seq = i, pad = ... } as fast as it can, then ends as MODE says:
--   disconnect  client:Disconnect(), then exit (the default)
--   drop        drop the client object and collect it, wait 0.5 s, then exit
--   exit        exit at once (lua_close closes the connection)
--   forever     keep sending (for a SIGKILL in the middle of a message)
--   delayed     wait DELAY seconds after connecting, send COUNT messages, then disconnect
--   hold        send COUNT messages, then stay connected (polling) until killed (60 s at most);
--               prints "FLUSHED" once its send queue is empty (all of it in the kernel), and
--               "CLOSED <reason>" if its connection closes meanwhile
--   quit        exit with os.exit(0) at once, the Lua state left open (mmnet finishes at exit)
--   disconnect-quit  client:Disconnect(), then os.exit(0), the Lua state left open
--
--   lua5.4 sender.lua PORT COUNT [MODE] [PAD_BYTES] [DELAY] [KEY]
--
-- KEY (32 or 64 hex digits; "" or absent: none) encrypts the connection.
--
-- Prints "CONNECTED", then "SENT n" when done. Exit status 0; 1 on any failure.
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local port = assert(tonumber(arg[1]), "port")
local count = assert(tonumber(arg[2]), "count")
local mode = arg[3] or "disconnect"
local pad = string.rep("p", tonumber(arg[4] or 0))
local delay = tonumber(arg[5] or 0)
local key = arg[6] ~= "" and arg[6] or nil

local function fail(why)
  io.stderr:write("sender: ", tostring(why), "\n")
  os.exit(1)
end

local client, why = network.Client("127.0.0.1", port, key)
if not client then fail(why) end
local ok, _, reason = client:WaitForConnect(5)
if not ok then fail(reason) end
print("CONNECTED")
io.stdout:flush()

if delay > 0 then os.execute("sleep " .. delay) end

--- Sends one message, waiting (time-limited) while the send queue is full.
local function send(i)
  local deadline = os.time() + 20
  while true do
    local sent, problem = client:Send({ seq = i, pad = pad })
    if sent then return end
    if not problem:find("queue full", 1, true) then fail(problem) end
    if os.time() > deadline then fail("send queue stayed full") end
    network.PollEvents(0.01)
  end
end

local i = 0
while mode == "forever" or i < count do
  i = i + 1
  send(i)
  if i % 1000 == 0 then network.PollEvents() end
end
print("SENT " .. i)
io.stdout:flush()

if mode == "disconnect" or mode == "delayed" or mode == "disconnect-quit" then
  client:Disconnect()
elseif mode == "hold" then
  local deadline, flushed = os.time() + 60, false
  while os.time() < deadline do
    for _, e in ipairs(network.PollEvents(0.05)) do
      if e.Event == network.EVENT_SERVER_CLOSE then
        print("CLOSED " .. e.Errors)
        io.stdout:flush()
      end
    end
    if not flushed and client:GetStats().SendQueueBytes == 0 then
      flushed = true
      print("FLUSHED")
      io.stdout:flush()
    end
  end
elseif mode == "drop" then
  client = nil
  collectgarbage()
  collectgarbage()
  network.PollEvents(0.5)
end
os.exit(0, not mode:find("quit", 1, true))
