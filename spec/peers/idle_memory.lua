-- Run by the C test host (tests/host/host.c) for idle_memory_spec: what a client and its
-- server-side connection, plain and then encrypted, hold in malloc once a burst of traffic has
-- been read and the connections sit idle (pings going on). Each kind opens IDLE_PAIRS pairs
-- in this one state (all kept open, so that none is freed while the next kind is measured);
-- every client sends IDLE_MESSAGES messages of IDLE_SIZE bytes of string (0: the small table
-- of the benchmarks) and the server sends as many back on every connection; the script reads
-- them all, polls for 1.5 s (the buffer pool frees what it kept unused for 1 s), and counts the
-- bytes of malloc's blocks in use against before the pairs (HOST.heap_in_use). With
-- IDLE_CLOSE=1 every client then disconnects, and the script keeps the closed objects (a table
-- of players that outlives them): what a closed pair holds is measured instead.
--
-- Prints "PLAIN <bytes> ENCRYPTED <bytes>", each per pair; raises otherwise (the host then
-- exits 1). Every wait is time-limited (20 s a kind).
-- Thread: the host's thread of this state.
local network = require "mmnet"

local pairs_count = assert(tonumber(os.getenv("IDLE_PAIRS")), "IDLE_PAIRS")
local messages = assert(tonumber(os.getenv("IDLE_MESSAGES")), "IDLE_MESSAGES")
local size = assert(tonumber(os.getenv("IDLE_SIZE")), "IDLE_SIZE")
local close = os.getenv("IDLE_CLOSE") == "1"
local KEY = "0C03EA65238DD2C25EB87CE563868098"

-- A burst larger than the event queue: the senders wait, nothing is dropped.
network.Configure({ QueueFull = "wait" })

local kept = {}

--- The `i`th message from `who`.
local function message(who, i)
  if size == 0 then return { OpCode = 10, Data = "From " .. who, Seq = i } end
  return { string.rep(who == "client" and "c" or "s", size), Seq = i }
end

--- Bytes of malloc's blocks held per pair of `n` pairs (encrypted with `key`, or plain).
local function held_per_pair(key, n)
  local server = assert(network.Server("127.0.0.1", 0, key))
  collectgarbage()
  collectgarbage()
  local before = HOST.heap_in_use()
  local clients, connections, received, closed = {}, {}, 0, 0
  local deadline = os.time() + 20
  local function poll(timeout)
    assert(os.time() < deadline, "timed out: " .. #connections .. " connections, " .. received .. " messages")
    for _, e in ipairs(network.PollEvents(timeout)) do
      if e.Event == network.EVENT_CONNECT then
        connections[#connections + 1] = e.Object
      elseif e.Event == network.EVENT_RECEIVE then
        received = received + 1
      elseif e.Event == network.EVENT_CLIENT_CLOSE and close then
        closed = closed + 1
      elseif e.Event ~= network.EVENT_CONNECTED then
        error("unexpected event " .. e.Event .. ": " .. tostring(e.Errors))
      end
    end
  end
  for i = 1, n do
    clients[i] = assert(network.Client("127.0.0.1", server:GetPort(), key))
    assert(clients[i]:WaitForConnect(10))
  end
  while #connections < n do poll(0.05) end
  -- All at once, as a burst: every connection has bytes waiting together.
  for s = 1, messages do
    for i = 1, n do assert(clients[i]:Send(message("client", s))) end
    assert(server:Send(message("server", s), table.unpack(connections)) == n)
  end
  while received < 2 * n * messages do poll(0.05) end
  if close then
    for i = 1, n do clients[i]:Disconnect() end
    while closed < n do poll(0.05) end
  end
  network.PollEvents(1.5)
  network.PollEvents(0)
  collectgarbage()
  collectgarbage()
  kept[#kept + 1] = { server, clients, connections }
  return (HOST.heap_in_use() - before) / n
end

held_per_pair(nil, 1)  -- the first connection's one-time allocations
print(string.format("PLAIN %.0f ENCRYPTED %.0f", held_per_pair(nil, pairs_count), held_per_pair(KEY, pairs_count)))
