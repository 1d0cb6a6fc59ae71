-- The examples (examples/): each runs to its end by itself within a few seconds, exits 0, and
-- prints what the issue says it shows. Examples that need a peer run as several processes.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"

local examples = helper.root .. "/examples/"

--- The command line that runs examples/<file> with lua5.4 against the test tree.
local function lua_example(file, ...)
  local words = {}
  for i, a in ipairs { ... } do words[i] = helper.quote(a) end
  return helper.tree_env() .. " " .. helper.lua .. " " .. helper.quote(examples .. file) .. " " ..
    table.concat(words, " ")
end

--- Asserts that `out` contains each of `lines` (plain text).
local function assert_lines(out, lines)
  for _, line in ipairs(lines) do
    assert.is_truthy(out:find(line, 1, true), "missing '" .. line .. "' in:\n" .. out)
  end
end

--- Starts examples/chat_server.lua expecting `expected` clients; returns the process and port.
local function start_chat_server(expected)
  local dir = helper.tempdir()
  local server = helper.spawn(lua_example("chat_server.lua", dir .. "/port", tostring(expected)),
    { timeout = 30 })
  local port = helper.wait_until(function()
    local text = helper.read_file(dir .. "/port")
    return text and tonumber(text:match("%d+"))
  end, 10)
  helper.cleanup(dir)
  assert(port, "the chat server did not write its port:\n" .. server:output())
  return server, port
end

--- Waits for the processes to end; asserts each exited 0 within `seconds`.
local function assert_all_exit_0(processes, seconds)
  for _, p in ipairs(processes) do
    local code = p:wait(seconds)
    assert.are.equal(0, code, "exit " .. tostring(code) .. ":\n" .. p:output())
  end
end

describe("examples", function()
  local processes = {}
  after_each(function()
    for _, p in ipairs(processes) do p:close() end
    processes = {}
  end)

  it("chat: two clients in their own processes see each other's lines, relayed by Broadcast", function()
    local server, port = start_chat_server(2)
    local alice = helper.spawn(lua_example("chat_client.lua", port, "alice", "hi bob", "how are you?"), { timeout = 30 })
    local bob = helper.spawn(lua_example("chat_client.lua", port, "bob", "hi alice"), { timeout = 30 })
    processes = { server, alice, bob }
    assert_all_exit_0({ alice, bob, server }, 15)
    assert_lines(alice:output(), { "alice: connected to 127.0.0.1 port " .. port, "alice: <bob> hi alice",
      "alice: <alice> how are you?", "alice: the server says all done; leaving" })
    assert_lines(bob:output(), { "bob: <alice> hi bob", "bob: <alice> how are you?", "bob: <bob> hi alice" })
    assert_lines(server:output(), { "chat server: everyone is here, starting the chat",
      "chat server: <alice> hi bob (relayed to 2)", "chat server: alice left (closed by peer)",
      "chat server: bob left (closed by peer)", "chat server: done" })
  end)

  it("python_client.py: a Python peer written from PROTOCOL.md chats with a Lua client", function()
    local server, port = start_chat_server(2)
    local python = helper.spawn("exec /usr/bin/python3 " .. helper.quote(examples .. "python_client.py") ..
      " " .. port .. " python 'hi lua' 'é and ü'", { timeout = 30 })
    local lua = helper.spawn(lua_example("chat_client.lua", port, "lua", "hi python"), { timeout = 30 })
    processes = { server, python, lua }
    assert_all_exit_0({ python, lua, server }, 15)
    assert_lines(python:output(), { "python: connected to mmnet at 127.0.0.1 port " .. port,
      "python: <lua> hi python", "python: <python> é and ü", "python: answered a ping (8 bytes)",
      "python: the server says all done; leaving" })
    assert_lines(lua:output(), { "lua: <python> hi lua", "lua: <python> é and ü" })
    assert_lines(server:output(), { "chat server: python left (closed by peer)", "chat server: done" })
  end)

  it("request_response.lua: answers matched by id, one request timed out", function()
    local ok, code, out = helper.run(lua_example("request_response.lua"), 15)
    assert.is_true(ok, "exit " .. code .. ":\n" .. out)
    assert_lines(out, { "request 1 add(2, 3) -> 5", "request 2 concat(net, work) -> network",
      "request 3 divide(1, 0) -> error: division by zero", "request 5 divide(22, 7) -> 3.14",
      "request 4 sleep timed out after 0.3 s", "request/response: OK" })
  end)

  it("state_sync.lua: every client ends with exactly the server's world", function()
    local ok, code, out = helper.run(lua_example("state_sync.lua", "8", "30"), 20)
    assert.is_true(ok, "exit " .. code .. ":\n" .. out)
    assert_lines(out, { "state sync: 8 clients connected; 30 ticks at 20 Hz",
      "state sync: 240 snapshots queued, 240 received",
      "state sync: 8 of 8 clients hold exactly the server's world at tick 30", "state sync: OK" })
  end)

  it("encrypted_link.lua: talks over TLS PSK and refuses a wrong key (or says encryption is missing)", function()
    local ok, code, out = helper.run(lua_example("encrypted_link.lua"), 20)
    assert.is_true(ok, "exit " .. code .. ":\n" .. out)
    local ok_probe, _, probe = helper.lua_run([[
      local network = require "mmnet"
      print(network.Server("127.0.0.1", 0, string.rep("ab", 16)) and "KEYS-WORK" or "NO-KEYS")]], { timeout = 15 })
    assert.is_true(ok_probe, probe)
    if probe:find("NO-KEYS", 1, true) then
      assert_lines(out, { "encrypted link: encryption is not available in this build" })
      pending("encryption is not integrated yet: only the example's fallback was checked")
      return
    end
    assert_lines(out, { "encrypted link: server listening on 127.0.0.1:",
      "encrypted link: client connected (TLS handshake and hello)",
      "encrypted link: server received: the eagle lands at noon",
      "encrypted link: client received: understood",
      "encrypted link: a client with another key was refused: TLS handshake failed",
      "encrypted link: the server reported: 127.0.0.1:",
      "encrypted link: OK" })
  end)

  describe("host_loop.c, a C host", function()
    local dir
    setup(function() dir = helper.tempdir() end)
    teardown(function() helper.cleanup(dir) end)

    local cflags = "-O2 -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -I/usr/include/lua5.4"
    local builds = {
      static = "-Wl,-E -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl -pthread",
      shared = "-llua5.4 -lm -ldl -pthread",
    }
    for kind, libs in pairs(builds) do
      for _, mode in ipairs { "--frames", "--wake" } do
        it("built against " .. kind .. " Lua, " .. mode .. ": pumps events, closes the state", function()
          local exe = dir .. "/host_loop_" .. kind
          local ok, code, out = helper.run("test -x " .. helper.quote(exe) .. " || gcc " .. cflags ..
            " -o " .. helper.quote(exe) .. " " .. helper.quote(examples .. "host_loop.c") .. " " .. libs, 60)
          assert.is_true(ok, "build failed (" .. code .. "):\n" .. out)
          ok, code, out = helper.run(helper.tree_env() .. " " .. helper.quote(exe) .. " " .. mode ..
            " " .. helper.quote(examples .. "host_loop.lua"), 20)
          assert.is_true(ok, "exit " .. code .. ":\n" .. out)
          assert_lines(out, { "script: client connected: true", "script: 5 squared is 25",
            mode == "--wake" and "host_loop: woken by the descriptor: Frame() called"
              or "host_loop: frame loop: Frame() called",
            "host_loop: Lua state closed" })
        end)
      end
    end

    it("without -Wl,-E, static Lua hides lua_* from mmnet (as docs/HOST.md warns)", function()
      local exe = dir .. "/host_loop_no_export"
      local ok, code, out = helper.run("gcc " .. cflags .. " -o " .. helper.quote(exe) .. " " ..
        helper.quote(examples .. "host_loop.c") .. " -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl -pthread", 60)
      assert.is_true(ok, "build failed (" .. code .. "):\n" .. out)
      ok, code, out = helper.run(helper.tree_env() .. " " .. helper.quote(exe) .. " --frames " ..
        helper.quote(examples .. "host_loop.lua"), 20)
      assert.is_false(ok, out)
      assert.is_truthy(out:find("undefined symbol: lua", 1, true), out)
    end)

    it("loads the drop-in mmnet.so from package.cpath (luaopen_mmnet, no helper)", function()
      local exe = dir .. "/host_loop_static"
      local ok, code, out = helper.run("test -x " .. helper.quote(exe) .. " || gcc " .. cflags ..
        " -o " .. helper.quote(exe) .. " " .. helper.quote(examples .. "host_loop.c") .. " " .. builds.static, 60)
      assert.is_true(ok, "build failed (" .. code .. "):\n" .. out)
      assert(helper.run("cp " .. helper.quote(helper.library) .. " " .. helper.quote(dir .. "/mmnet.so"), 10))
      ok, code, out = helper.run("env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=/nonexistent/?.lua LUA_CPATH=" ..
        helper.quote(dir .. "/?.so") .. " " .. helper.quote(exe) .. " --wake " .. helper.quote(examples .. "host_loop.lua"), 20)
      assert.is_true(ok, "exit " .. code .. ":\n" .. out)
      assert_lines(out, { "script: 5 squared is 25", "host_loop: Lua state closed" })
    end)
  end)
end)

describe("README.md's server and client", function()
  it("run as printed (the server on a port the OS chooses)", function()
    local readme = assert(helper.read_file(helper.root .. "/README.md"))
    local server_code = readme:match("`server%.lua`:[^\n]*\n\n```lua\n(.-)```")
    local client_code = readme:match("`client%.lua`:[^\n]*\n\n```lua\n(.-)```")
    assert(server_code and client_code, "README.md has no server.lua / client.lua blocks")
    local server_lines = select(2, server_code:gsub("\n", ""))
    local client_lines = select(2, client_code:gsub("\n", ""))
    assert.is_true(server_lines + client_lines <= 40, "the two are " .. (server_lines + client_lines) .. " lines")
    local dir = helper.tempdir()
    helper.write_file(dir .. "/server.lua", (server_code:gsub("4096", "0")))
    local server = helper.spawn(helper.tree_env() .. " " .. helper.lua .. " " .. helper.quote(dir .. "/server.lua"),
      { timeout = 30 })
    local line = server:wait_for("^listening on port %d+", 10)
    assert(line, "the server did not start:\n" .. server:output())
    local port = line:match("%d+")
    helper.write_file(dir .. "/client.lua", (client_code:gsub("4096", port)))
    local ok, code, out = helper.run(helper.tree_env() .. " " .. helper.lua .. " " .. helper.quote(dir .. "/client.lua"), 15)
    local server_out = server:output()
    server:close()
    helper.cleanup(dir)
    assert.is_true(ok, "client exit " .. code .. ":\n" .. out)
    assert.are.equal("hello, ann\n", out)
    assert.is_truthy(server_out:find("client from 127.0.0.1", 1, true), server_out)
    assert.is_truthy(server_out:find("got hi", 1, true), server_out)
  end)
end)
