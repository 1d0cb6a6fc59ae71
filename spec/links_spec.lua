-- Real links (issue 8): the soak traffic of tests/soak/soak.lua (sequence-checked, half of the
-- connections encrypted) between two network namespaces joined by a veth pair (real
-- addresses, not loopback; skipped with the reason where namespaces cannot be made), and
-- through a userspace relay (tests/soak/relay.py) that adds 50 ms each way, caps each
-- direction at 1 MB/s and stalls everything for 2 s: nothing lost; throughput printed.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- The environment that loads mmnet from the test tree and LuaSocket from the system.
local function lua_env()
  return "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" ..
    helper.quote(helper.tree .. "/share/lua/5.4/?.lua;;") .. " LUA_CPATH=" ..
    helper.quote(helper.tree .. "/lib/lua/5.4/?.so;;")
end

--- The soak driver's command line with `args`.
local function soak_command(args)
  return lua_env() .. " " .. helper.lua .. " " .. helper.quote(helper.root .. "/tests/soak/soak.lua") ..
    " driver " .. args
end

--- A unique short suffix for names (network namespaces, veth links: at most 15 characters).
local function suffix()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("a"):match("^(%d+)")
  f:close()
  return pid
end

describe("real links", function()
  it("two network namespaces joined by a veth pair carry the soak traffic, nothing lost", function()
    local id = suffix()
    local a, b = "mmnet-a" .. id, "mmnet-b" .. id
    local va, vb = "mma" .. id, "mmb" .. id
    local setup = table.concat({
      "ip netns add " .. a, "ip netns add " .. b,
      "ip link add " .. va .. " type veth peer name " .. vb,
      "ip link set " .. va .. " netns " .. a, "ip link set " .. vb .. " netns " .. b,
      "ip -n " .. a .. " addr add 10.231.0.1/24 dev " .. va,
      "ip -n " .. b .. " addr add 10.231.0.2/24 dev " .. vb,
      "ip -n " .. a .. " link set " .. va .. " up", "ip -n " .. b .. " link set " .. vb .. " up",
      "ip -n " .. a .. " link set lo up", "ip -n " .. b .. " link set lo up",
    }, " && ")
    finally(function() helper.run("ip netns del " .. a .. "; ip netns del " .. b, 10) end)
    local ok, _, out = helper.run(setup, 10)
    if not ok then
      pending("cannot create network namespaces and a veth pair here (needs root and CAP_SYS_ADMIN): " .. out)
      return
    end
    local command = "ip netns exec " .. a .. " " .. soak_command("3 wait 8 --bind 10.231.0.1 --peer-prefix " ..
      helper.quote("ip netns exec " .. b))
    local passed, code, output = helper.run(command, 90)
    print("\n  veth 10.231.0.1 <-> 10.231.0.2:\n" .. output)
    assert.is_true(passed, "exit " .. tostring(code) .. ": " .. output)
    assert.is_truthy(output:find("SOAK PASSED", 1, true), output)
    assert.is_truthy(output:find("servers: 8 connections (4 encrypted)", 1, true), output)
  end)

  it("a relay with 50 ms latency each way, a 1 MB/s cap and a 2 s stall loses nothing", function()
    local dir = helper.tempdir()
    finally(function() helper.cleanup(dir) end)
    local ready, ports = dir .. "/servers", dir .. "/relay"
    local relay = helper.spawn("exec /usr/bin/python3 " .. helper.quote(helper.root .. "/tests/soak/relay.py") ..
      " " .. helper.quote(ready) .. " " .. helper.quote(ports) ..
      " --latency 0.05 --rate 1000000 --stall-at 1.5 --stall-for 2 --lifetime 80", { timeout = 90 })
    finally(function() relay:close() end)
    local start = helper.now()
    local passed, code, output = helper.run(soak_command("4 drop 4 --ready-file " .. helper.quote(ready) ..
      " --via " .. helper.quote(ports)), 80)
    local took = helper.now() - start
    print(string.format("\n  relay (50 ms each way, 1 MB/s per direction, 2 s stall), %.1f s in all:\n%s",
      took, output))
    assert.is_true(passed, "exit " .. tostring(code) .. ": " .. output .. "\nrelay: " .. relay:output())
    assert.is_truthy(output:find("SOAK PASSED", 1, true), output)
    assert.is_truthy(output:find("servers: 4 connections (2 encrypted)", 1, true), output)
    -- The relay really was in the way: the round trip shows its 2 x 50 ms.
    local rtt = tonumber(output:match("servers: .-mean smoothed RTT ([%d.]+) ms"))
    assert.is_truthy(rtt and rtt >= 100, "RTT " .. tostring(rtt) .. " ms: " .. output)
  end)
end)
