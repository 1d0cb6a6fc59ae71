-- Shared helpers for the busted specs: shell commands with a time limit, the project's paths,
-- fresh lua5.4 subprocesses against an installed tree, temp dirs, and background processes
-- (for specs that run a server and a client in two processes).
--
-- Thread: the busted process's Lua thread only. Every wait here has a time limit.

local helper = {}

--- The checkout being tested (MMNET_ROOT, set by `make test-lua`).
helper.root = assert(os.getenv("MMNET_ROOT"), "MMNET_ROOT is not set: run the specs with `make test`")
--- The tree `make install PREFIX=...` put the module into (MMNET_TREE, set by `make test-lua`).
helper.tree = assert(os.getenv("MMNET_TREE"), "MMNET_TREE is not set: run the specs with `make test`")
--- The built native library, as `make build` leaves it.
helper.library = helper.root .. "/.build/release/libmmnet.so"
--- The C test host that embeds Lua (tests/host/host.c, built by `make host`).
helper.host = os.getenv("MMNET_HOST") or (helper.root .. "/out/host")
--- The hostile encrypted client (tests/tls/tls_peer.c, built by `make tls-peer`).
helper.tls_peer = os.getenv("MMNET_TLS_PEER") or (helper.root .. "/out/tls_peer")
--- The valgrind suppressions for the Swift runtime's own tables (tests/host/valgrind.supp).
helper.valgrind_supp = helper.root .. "/tests/host/valgrind.supp"
--- The interpreter the subprocesses run (stock Debian lua5.4).
helper.lua = os.getenv("LUA") or "lua5.4"
--- The sanitizer the module under test was built with ("address", "thread"), or nil
-- (MMNET_SANITIZER, set by `make test-asan` / `make test-tsan`). Specs that run valgrind are
-- pending under one: valgrind and a sanitizer runtime cannot share a process.
helper.sanitizer = os.getenv("MMNET_SANITIZER")
--- Seconds a command may run unless the caller says otherwise.
helper.default_timeout = 60

--- Quotes a string for the POSIX shell.
-- @param s string
-- @return string the quoted word, e.g. `'it'\''s'`
function helper.quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- Runs a shell command with a time limit (coreutils `timeout`; KILL 5 s after TERM).
-- @param command string a `sh -c` command line
-- @param seconds number time limit (default `helper.default_timeout`)
-- @return boolean ok (exited with status 0), integer exit code (124 on timeout, 128+n on signal
--   n), string stdout and stderr together
function helper.run(command, seconds)
  -- The output goes to a file, not a pipe read to its end: a process the command started that
  -- outlives it (a hung forked child, a server started with `&`) would hold the pipe open past
  -- the time limit, which ends only what `timeout` waits for (`sleep 20 &` with a limit of
  -- 3 s: 20 s).
  local file = os.tmpname()
  local line = string.format("timeout -k 5 %s sh -c %s >%s 2>&1; echo $?",
    tostring(seconds or helper.default_timeout), helper.quote(command), helper.quote(file))
  local pipe = assert(io.popen(line, "r"))
  local code = tonumber(pipe:read("a"):match("%d+"))
  pipe:close()
  local output = helper.read_file(file) or ""
  os.remove(file)
  return code == 0, code, output
end

--- The environment words that make lua5.4 load modules from an installed tree.
-- @param tree string the install prefix (default `helper.tree`)
-- @param opts table|nil `path_only = true`: no LUA_CPATH into the tree (the helper must find
--   core.so beside itself); `cpath`: a LUA_CPATH to use instead
-- @return string e.g. `env -u LUA_PATH_5_4 ... LUA_PATH='...' LUA_CPATH='...'`
function helper.tree_env(tree, opts)
  tree = tree or helper.tree
  opts = opts or {}
  local path = tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua"
  local cpath = opts.cpath or (opts.path_only and "/nonexistent/?.so")
    or (tree .. "/lib/lua/5.4/?.so")
  return "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" .. helper.quote(path) ..
    " LUA_CPATH=" .. helper.quote(cpath)
end

--- Runs a Lua snippet in a fresh lua5.4 process that loads modules from an installed tree.
-- @param code string the chunk, given to `lua5.4 -e`
-- @param opts table|nil `tree`, `path_only`, `cpath` (see `tree_env`), `timeout` (seconds)
-- @return boolean ok, integer exit code, string output (as `helper.run`)
function helper.lua_run(code, opts)
  opts = opts or {}
  local command = helper.tree_env(opts.tree, opts) .. " " .. helper.lua .. " -e " ..
    helper.quote(code)
  return helper.run(command, opts.timeout)
end

--- Runs a Lua chunk in the C test host (tests/host/host.c: it gives the chunk `HOST`), which
-- loads modules from the test tree.
-- @param code string the chunk, given to `host -e`
-- @param seconds number time limit
-- @return boolean ok, integer exit code, string output (as `helper.run`)
function helper.host_run(code, seconds)
  return helper.run(helper.tree_env() .. " " .. helper.quote(helper.host) .. " -e " .. helper.quote(code), seconds)
end

--- Makes a new empty directory under /tmp.
-- @return string its absolute path
function helper.tempdir()
  local ok, _, output = helper.run("mktemp -d /tmp/mmnet-spec.XXXXXX", 10)
  assert(ok, "mktemp failed: " .. output)
  return (output:gsub("%s+$", ""))
end

--- Removes a directory made by `helper.tempdir` (refuses any other path).
-- @param dir string|nil the directory (nil: nothing to do)
function helper.cleanup(dir)
  if not dir then return end
  assert(dir:match("^/tmp/mmnet%-spec%.[%w]+$"), "not a helper temp dir: " .. dir)
  helper.run("rm -rf " .. helper.quote(dir), 30)
end

--- Reads a whole file.
-- @param path string
-- @return string|nil its contents (nil when it cannot be opened)
function helper.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end

--- Writes a whole file.
-- @param path string
-- @param data string
function helper.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

--- Sleeps for a fraction of a second (the poll step of the waits below).
-- @param seconds number
function helper.sleep(seconds)
  os.execute("sleep " .. tostring(seconds))
end

--- Seconds since the Unix epoch, with sub-second precision (from `date`).
-- @return number
function helper.now()
  local pipe = assert(io.popen("date +%s.%N"))
  local t = tonumber(pipe:read("l"))
  pipe:close()
  return t
end

--- Calls `check` until it returns a true value or `seconds` pass.
-- @param check function returning a value (true: done)
-- @param seconds number time limit
-- @param step number|nil seconds between calls (default 0.05)
-- @return any the value `check` returned, or nil on timeout
function helper.wait_until(check, seconds, step)
  local deadline = helper.now() + seconds
  repeat
    local value = check()
    if value then return value end
    helper.sleep(step or 0.05)
  until helper.now() > deadline
  return check() or nil
end

local Process = {}
Process.__index = Process

--- Starts a shell command in the background, with a time limit.
-- Its stdout and stderr go to `proc.log`, its exit status to `proc.status_file`. The command
-- runs under coreutils `timeout` (its own process group), inside a small shell of a session of
-- its own that records the status and then ends what it started.
-- @param command string a `sh -c` command line (use `helper.tree_env()` for lua5.4 commands)
-- @param opts table|nil `timeout` (seconds the process may live, default
--   `helper.default_timeout`); `stdin_open = true`: keep its stdin open (some servers exit at
--   EOF): it reads a FIFO, `proc.stdin`, that the spec may write to
-- @return table a process: `pid` (of `timeout`), `group` (of the shell), `dir`, `log`, `stdin`;
--   methods
--   `feed`, `output`, `wait_for`, `exit_code`, `wait`, `kill`, `close`
function helper.spawn(command, opts)
  opts = opts or {}
  local limit = tostring(opts.timeout or helper.default_timeout)
  local dir = helper.tempdir()
  local log, status, pidfile = dir .. "/log", dir .. "/status", dir .. "/pid"
  local run = "timeout -k 5 " .. limit .. " sh -c " .. helper.quote(command)
  if opts.stdin_open then
    -- A FIFO opened read-write never reaches EOF; writing to `proc.stdin` feeds the command.
    local fifo = helper.quote(dir .. "/stdin")
    run = "mkfifo " .. fifo .. "; " .. run .. " 0<>" .. fifo
  end
  local inner = run .. " >" .. helper.quote(log) .. " 2>&1 & echo $! >" .. helper.quote(pidfile) ..
    "; wait $!; echo $? >" .. helper.quote(status) .. "; kill 0"
  -- A background job of a non-interactive sh is no group leader: setsid makes it one, in place.
  local line = "setsid sh -c " .. helper.quote(inner) .. " >/dev/null 2>&1 </dev/null & echo $!"
  local pipe = assert(io.popen(line, "r"))
  local group = tonumber(pipe:read("l"))
  pipe:close()
  assert(group, "could not start: " .. command)
  local pid = helper.wait_until(function()
    local text = helper.read_file(pidfile)
    return text and tonumber(text:match("%d+"))
  end, 10)
  assert(pid, "no pid for: " .. command)
  return setmetatable({ pid = pid, group = group, dir = dir, log = log, status_file = status,
    stdin = opts.stdin_open and (dir .. "/stdin") or nil }, Process)
end

--- Writes `bytes` to the stdin of a process started with `stdin_open`. Opened for reading too,
-- the FIFO never blocks the open: a process already gone fails the test at its next wait
-- instead of hanging it here. It stays open until `close`: the last descriptor of a FIFO
-- closed drops what it holds, and the process may not have opened its end yet (an `openssl
-- s_client` fed right after its start never got its bytes).
-- @param bytes string
function Process:feed(bytes)
  self.stdin_file = self.stdin_file or assert(io.open(self.stdin, "r+b"))
  assert(self.stdin_file:write(bytes))
  assert(self.stdin_file:flush())
end

--- Everything the process has written so far.
-- @return string
function Process:output()
  return helper.read_file(self.log) or ""
end

--- Waits until the process's output contains a line matching a Lua pattern.
-- @param pattern string a Lua pattern, matched against each line
-- @param seconds number time limit (default 10)
-- @return string|nil the first matching line, or nil on timeout or if the process ended first
function Process:wait_for(pattern, seconds)
  local function find()
    for line in self:output():gmatch("[^\n]*") do
      if line:match(pattern) then return line end
    end
    if self:exit_code() then return false end
    return nil
  end
  local line = helper.wait_until(function()
    local found = find()
    if found == false then return "ended" end
    return found
  end, seconds or 10)
  if line == "ended" then return find() or nil end
  return line
end

--- The exit status, if the process has ended.
-- @return integer|nil its exit code (124 when its time limit killed it), nil while running
function Process:exit_code()
  local text = helper.read_file(self.status_file)
  return text and tonumber(text:match("%d+"))
end

--- Waits for the process to end by itself.
-- @param seconds number time limit (default 10)
-- @return integer|nil its exit code, nil if it still runs after `seconds`
function Process:wait(seconds)
  return helper.wait_until(function() return self:exit_code() end, seconds or 10)
end

--- Ends the process: TERM (which `timeout` passes on to the command), then KILL to the
-- command's whole process group if it is still there after 5 seconds.
-- @return integer|nil the exit code (143 after TERM)
function Process:kill()
  if self:exit_code() then return self:exit_code() end
  os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
  local code = self:wait(5)
  if not code then
    os.execute("kill -KILL -" .. self.pid .. " 2>/dev/null")  -- dash's kill takes no "--"
    code = self:wait(5)
  end
  if not code then os.execute("kill -KILL -" .. self.group .. " 2>/dev/null") end
  return code
end

--- Kills the process if it still runs, and removes its directory.
function Process:close()
  self:kill()
  if self.stdin_file then self.stdin_file:close() end
  helper.cleanup(self.dir)
end

--- The version the rockspec declares (without its revision), e.g. "0.1.0".
-- @return string
function helper.rockspec_version()
  local ok, _, out = helper.run("ls " .. helper.quote(helper.root) .. "/*.rockspec", 10)
  assert(ok, out)
  local rockspec = out:match("[^\n]+")
  local text = assert(helper.read_file(rockspec))
  return assert(text:match('\nversion%s*=%s*"([^"-]+)%-%d+"')), rockspec
end

--- A Lua snippet that loads mmnet and prints "MMNET-OK <_VERSION>" once its constants check out.
-- @param require_name string|nil the module name to require (default "mmnet")
-- @return string the snippet
function helper.load_check_snippet(require_name)
  return ([[
    assert(_VERSION == "Lua 5.4", "not Lua 5.4: " .. _VERSION)
    local m = require %q
    assert(type(m) == "table", "module is not a table")
    local codes = {}
    for _, name in ipairs { "EVENT_CONNECT", "EVENT_CONNECTED", "EVENT_RECEIVE",
        "EVENT_SERVER_CLOSE", "EVENT_CLIENT_CLOSE", "EVENT_ERROR" } do
      local v = m[name]
      assert(math.type(v) == "integer", name .. " is not an integer")
      assert(not codes[v], name .. " repeats code " .. tostring(v))
      codes[v] = name
    end
    print("MMNET-OK " .. m._VERSION)
  ]]):format(require_name or "mmnet")
end

return helper
