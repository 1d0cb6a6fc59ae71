-- Example: an encrypted link. A server and a client given the same key (32 hex digits =
-- 128-bit, or 64 = 256-bit) talk over TLS 1.3 with that pre-shared key; a client with another
-- key is refused during the handshake. Prints what happens; exits 0. If this build has no
-- encryption yet, it says so and exits 0.
--
--   lua5.4 examples/encrypted_link.lua
--
-- Thread: its own process's Lua thread.
local network = require "mmnet"

local key = "0C03EA65238DD2C25EB87CE563868098"                         -- 128-bit
local wrongKey = "00112233445566778899AABBCCDDEEFF"

local server, result = network.Server("127.0.0.1", 0, key)
if not server then
  print("encrypted link: encryption is not available in this build: " .. result)
  os.exit(0)
end
print("encrypted link: server " .. result .. " with a 128-bit key")

local client = assert(network.Client("127.0.0.1", server:GetPort(), key))
local ok, seconds, why = client:WaitForConnect(5)
if not ok then error("the client with the right key did not connect: " .. tostring(why)) end
print(("encrypted link: client connected (TLS handshake and hello) in %.1f ms"):format(seconds * 1000))

local connections = {}
local answered = false
assert(client:Send({ Secret = "the eagle lands at noon" }))
for _ = 1, 100 do
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_CONNECT then
      connections[#connections + 1] = e.Object
    elseif e.Event == network.EVENT_RECEIVE and e.Object ~= client then
      print("encrypted link: server received: " .. e.Packet.Secret)
      server:Send({ Reply = "understood" }, e.Object)
    elseif e.Event == network.EVENT_RECEIVE and e.Object == client then
      print("encrypted link: client received: " .. e.Packet.Reply)
      answered = true
    end
  end
  if answered then break end
end
assert(answered, "no answer over the encrypted link")

-- A client with a different key: the TLS handshake fails, and both sides say why.
local intruder = assert(network.Client("127.0.0.1", server:GetPort(), wrongKey))
local connected, _, reason = intruder:WaitForConnect(5)
assert(not connected, "a client with the wrong key connected")
print("encrypted link: a client with another key was refused: " .. reason)
local serverSaw
for _ = 1, 40 do                                   -- at most 2 s
  for _, e in ipairs(network.PollEvents(0.05)) do
    if e.Event == network.EVENT_ERROR and e.Object == server then serverSaw = e.Errors end
  end
  if serverSaw then break end
end
print("encrypted link: the server reported: " .. tostring(serverSaw))

print("encrypted link: OK")
os.exit(0, true)
