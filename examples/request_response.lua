-- Example: request/response over one connection, with ids and timeouts. A server and a client
-- run in this one process (one Lua state may hold both). The client numbers each request; the
-- server answers with the same id; the client matches answers to requests by id, and gives up
-- on a request that has no answer within its timeout (the server ignores "sleep" requests, to
-- show it). Prints each outcome and exits 0 when every request is answered or timed out.
--
--   lua5.4 examples/request_response.lua
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local server = assert(network.Server("127.0.0.1", 0))
local client = assert(network.Client("127.0.0.1", server:GetPort()))
assert(client:WaitForConnect(5))

-- Stock Lua has no sub-second wall clock; the connection's age (GetStats().ConnectedTime,
-- seconds since it was made) serves as one.
local function now() return client:GetStats().ConnectedTime end

-- The server's handlers, by operation.
local handlers = {
  add = function(a, b) return a + b end,
  concat = function(a, b) return a .. b end,
  divide = function(a, b)
    if b == 0 then return nil, "division by zero" end
    return a / b
  end,
}

-- The client's side: pending requests by id.
local nextId, pending, outstanding = 0, {}, 0
local function request(op, a, b, timeout)
  nextId = nextId + 1
  pending[nextId] = { op = op, args = { a, b }, sent = now(), deadline = now() + timeout }
  outstanding = outstanding + 1
  assert(client:Send({ Id = nextId, Op = op, Args = { a, b } }))
  return nextId
end

request("add", 2, 3, 1.0)
request("concat", "net", "work", 1.0)
request("divide", 1, 0, 1.0)
request("sleep", 0, 0, 0.3)      -- the server never answers this one
request("divide", 22, 7, 1.0)

local clients = {}
local giveUp = os.time() + 10
while outstanding > 0 and os.time() < giveUp do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_CONNECT then
      clients[#clients + 1] = e.Object           -- keep the ClientConnection referenced
    elseif e.Event == network.EVENT_RECEIVE and e.Object ~= client then
      -- Server side: answer with the request's id.
      local p = e.Packet
      local handler = handlers[p.Op]
      if handler then
        local result, problem = handler(p.Args[1], p.Args[2])
        server:Send({ Id = p.Id, Result = result, Error = problem }, e.Object)
      elseif p.Op ~= "sleep" then
        server:Send({ Id = p.Id, Error = "unknown operation " .. tostring(p.Op) }, e.Object)
      end
    elseif e.Event == network.EVENT_RECEIVE and e.Object == client then
      -- Client side: match the answer to its request.
      local p = e.Packet
      local r = pending[p.Id]
      if r then
        pending[p.Id] = nil
        outstanding = outstanding - 1
        local what = ("request %d %s(%s, %s)"):format(p.Id, r.op, tostring(r.args[1]), tostring(r.args[2]))
        if p.Error then
          print(what .. " -> error: " .. p.Error)
        else
          print(what .. " -> " .. tostring(p.Result))
        end
      else
        print("answer to unknown or expired request " .. tostring(p.Id))
      end
    end
  end
  -- Expire requests whose time is up.
  for id, r in pairs(pending) do
    if now() > r.deadline then
      pending[id] = nil
      outstanding = outstanding - 1
      print(("request %d %s timed out after %.1f s"):format(id, r.op, r.deadline - r.sent))
    end
  end
end
print(outstanding == 0 and "request/response: OK" or "request/response: unfinished")
os.exit(outstanding == 0 and 0 or 1, true)
