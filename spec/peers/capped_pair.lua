-- What the scripts memory_spec runs in the C test host with --memory-limit share: a server and
-- a client connected to it in the same state, and a deadline for everything they wait for.
--
-- Thread: the host's thread of the state that requires it.
local network = require "mmnet"
local socket = require "socket"

local capped_pair = {}

--- Makes a server on a free local port and a client connected to it.
-- @param seconds number the time every later `before_deadline` call allows, from now; at least
--   CAPPED_PAIR_SECONDS from the environment, which memory_spec sets for its runs under
--   valgrind: there the scripts run 20 to 50 times slower, and slower still on a busy machine
--   (they needed 15 to 21 s of the 10 s). The limit only keeps a hang from lasting; nothing
--   here measures speed.
-- @return server, client, and the function `before_deadline(what)`: true until the deadline,
--   then it raises "timed out waiting for <what>"
function capped_pair.open(seconds)
  seconds = math.max(seconds, tonumber(os.getenv("CAPPED_PAIR_SECONDS")) or 0)
  local deadline = socket.gettime() + seconds
  local function before_deadline(what)
    if socket.gettime() > deadline then error("timed out waiting for " .. what) end
    return true
  end
  local server = assert(network.Server("127.0.0.1", 0))
  local client = assert(network.Client("127.0.0.1", server:GetPort()))
  assert(client:WaitForConnect(5))
  return server, client, before_deadline
end

--- Polls until the server's EVENT_CONNECT for the client comes (other events are dropped).
-- @param before_deadline function the one `open` returned
-- @return the ClientConnection (the caller holds it: collected, it would close)
function capped_pair.connection(before_deadline)
  while before_deadline("EVENT_CONNECT") do
    for _, e in ipairs(network.PollEvents(0.05)) do
      if e.Event == network.EVENT_CONNECT then return e.Object end
    end
  end
end

return capped_pair
