-- A chunk for the C test host (tests/host/host.c): each Lua state runs a server and a client
-- of its own, exchanges messages tagged with its STATE_INDEX through STEP, checks that it
-- only ever sees its own objects and its own messages, and leaves traffic in flight and
-- objects open in different ways (by ROUND and STATE_INDEX) when the host closes the state.
--
--   host [--states N] [--rounds R] [--threads] tests/host/traffic.lua
--
-- Thread: the host thread that runs this state (one state per thread with --threads).
local network = require "mmnet"

local MESSAGES = 50
local me = STATE_INDEX
local server = assert(network.Server("127.0.0.1", 0))
local client = assert(network.Client("127.0.0.1", server:GetPort()))
local conn, received, echoed, sent = nil, 0, 0, 0
local deadline = os.time() + 30
-- How this state ends: 1 leaves everything open with messages in flight, 2 disconnects the
-- client first, 3 drops the server object before the close, 4 disconnects the connection.
local ending = (me + (ROUND or 1)) % 4 + 1

local function mine(object)
  return rawequal(object, server) or rawequal(object, client) or (conn ~= nil and rawequal(object, conn))
end

function STEP()
  if os.time() > deadline then error("state " .. me .. ": traffic not done within 30 s") end
  for _, e in ipairs(network.PollEvents(0.001)) do
    if e.Event == network.EVENT_CONNECT then
      assert(conn == nil, "a second EVENT_CONNECT in state " .. me)
      conn = e.Object
    elseif e.Event == network.EVENT_CONNECTED then
      assert(rawequal(e.Object, client) and e.Result, "bad EVENT_CONNECTED in state " .. me)
    elseif e.Event == network.EVENT_RECEIVE then
      assert(mine(e.Object), "state " .. me .. " got an event of another state's object")
      assert(e.Packet.state == me, "state " .. me .. " got a message of state " .. tostring(e.Packet.state))
      if rawequal(e.Object, conn) then
        received = received + 1
        assert(server:Send({ state = me, echo = e.Packet.n }, conn) == 1)
      else
        echoed = echoed + 1
      end
    else
      error("state " .. me .. ": unexpected event " .. e.Event .. " " .. tostring(e.Errors))
    end
  end
  if conn and sent < MESSAGES then
    sent = sent + 1
    assert(client:Send({ state = me, n = sent, pad = string.rep("x", 100 * me) }))
  end
  if echoed < MESSAGES then return true end
  print(("traffic: state %d round %d: %d sent, %d received, %d echoed, ending %d"):format(
    me, ROUND, sent, received, echoed, ending))
  -- Done: leave the state in one of the endings; the host closes it next.
  for i = 1, 20 do client:Send({ state = me, n = -i }) end  -- in flight at close
  if ending == 2 then client:Disconnect()
  elseif ending == 3 then server = nil; collectgarbage()
  elseif ending == 4 then server:Disconnect(conn) end
  return false
end
