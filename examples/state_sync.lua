-- Example: state sync of a game-like table to many clients with Broadcast. A server owns the
-- world (players with positions and health); 20 times a second it moves them and broadcasts a
-- snapshot; each of several clients (all in this one process, as separate connections) keeps
-- the latest snapshot it received. At the end every client's copy must equal the server's.
--
--   lua5.4 examples/state_sync.lua [CLIENTS] [TICKS]    (defaults 8 and 30)
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local clientCount, ticks = tonumber(arg[1]) or 8, tonumber(arg[2]) or 30

local server = assert(network.Server("127.0.0.1", 0))
local clients, copies = {}, {}
for i = 1, clientCount do
  clients[i] = assert(network.Client("127.0.0.1", server:GetPort()))
end
for i = 1, clientCount do assert(clients[i]:WaitForConnect(5)) end
local indexOf = {}
for i, c in ipairs(clients) do indexOf[c] = i end

-- The world the server owns.
local world = { Tick = 0, Players = {} }
for _, name in ipairs { "ann", "bo", "cy", "di" } do
  world.Players[name] = { X = 0, Y = 0, HP = 100, Items = { "sword" } }
end

--- Deep equality of two plain tables (what arrives is a copy, never the same table).
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local connections = {}   -- the server's ClientConnections, kept referenced
local received = 0
local function handle(events)
  for _, e in ipairs(events) do
    if e.Event == network.EVENT_CONNECT then
      connections[#connections + 1] = e.Object
    elseif e.Event == network.EVENT_RECEIVE and indexOf[e.Object] then
      copies[indexOf[e.Object]] = e.Packet
      received = received + 1
    elseif e.Event == network.EVENT_ERROR or e.Event == network.EVENT_SERVER_CLOSE then
      error("unexpected event: " .. tostring(e.Errors))
    end
  end
end

-- Wait until the server has seen every client (their EVENT_CONNECTs).
local waited = 0
while #connections < clientCount and waited < 100 do
  handle(network.PollEvents(0.05))
  waited = waited + 1
end
print(("state sync: %d clients connected; %d ticks at 20 Hz"):format(server:ConnectionCount(), ticks))

-- Stock Lua has no sub-second wall clock; a connection's age (seconds) serves as one.
local function now() return clients[1]:GetStats().ConnectedTime end
local start = now()

local sent = 0
for tick = 1, ticks do
  world.Tick = tick
  for name, p in pairs(world.Players) do
    p.X = p.X + #name
    p.Y = p.Y - 1
    p.HP = math.max(0, p.HP - (tick % 3))
  end
  if tick == ticks // 2 then world.Players.eve = { X = 5, Y = 5, HP = 100, Items = {} } end
  if tick == ticks // 2 + 5 then world.Players.bo = nil end   -- a player leaves
  sent = sent + server:Broadcast(world)   -- encoded once, queued to every connection
  -- Handle events until the next tick is due (20 Hz): PollEvents sleeps until an event comes
  -- or the time left runs out, so the loop neither spins nor falls behind.
  local due = start + tick / 20
  repeat
    handle(network.PollEvents(math.max(0, due - now())))
  until now() >= due
end
-- Let the last snapshots arrive (everything sent is delivered in order on each connection).
local deadline = 0
while deadline < 100 do
  local done = true
  for i = 1, clientCount do
    if not copies[i] or copies[i].Tick ~= ticks then done = false end
  end
  if done then break end
  handle(network.PollEvents(0.05))
  deadline = deadline + 1
end

local inSync = 0
for i = 1, clientCount do
  if same(copies[i], world) then inSync = inSync + 1 end
end
local stats = server:GetStats()
print(("state sync: %d snapshots queued, %d received, %d bytes sent by the server"):format(
  sent, received, stats.BytesSent))
print(("state sync: %d of %d clients hold exactly the server's world at tick %d (%.1f s)"):format(
  inSync, clientCount, world.Tick, now() - start))
print(inSync == clientCount and "state sync: OK" or "state sync: FAILED")
os.exit(inSync == clientCount and 0 or 1, true)
