-- Loading and unloading mmnet many times: stock lua5.4 in a loop, and the C test host
-- (tests/host/host.c) that opens and closes Lua states requiring mmnet, sequentially, several
-- at once closed in different orders, and on their own threads; also under valgrind.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

--- Runs the test host with `args` and a chunk given with -e, against the test tree.
-- @param args string host options, e.g. "--states 4 --rounds 3"
-- @param chunk string the Lua chunk every state runs
-- @param opts table|nil `valgrind = true`: run it under memcheck; `cpath`, `tree`: see tree_env;
--   `file = true`: `chunk` is the path of a script file instead
-- @return boolean ok, integer exit code, string output
local function host(args, chunk, opts)
  opts = opts or {}
  if opts.valgrind and helper.sanitizer then
    -- valgrind cannot run a process that has a sanitizer runtime preloaded: the sanitizer
    -- build is checked by the sanitizer instead (`make test-asan` / `make test-tsan`).
    pending("valgrind skipped under the " .. helper.sanitizer .. " sanitizer")
    return true, 0, "ERROR SUMMARY: 0 errors (valgrind skipped under a sanitizer)"
  end
  local command = helper.tree_env(opts.tree, opts) .. " "
  if opts.valgrind then
    command = command .. "valgrind --keep-debuginfo=yes --leak-check=full " ..
      "--errors-for-leak-kinds=definite --error-exitcode=99 --suppressions=" ..
      helper.quote(helper.valgrind_supp) .. " "
  end
  local script = opts.file and helper.quote(chunk) or ("-e " .. helper.quote(chunk))
  command = command .. helper.quote(helper.host) .. " " .. args .. " " .. script
  return helper.run(command, opts.valgrind and 300 or 60)
end

local REQUIRE = 'local m = require "mmnet"; assert(m.EVENT_RECEIVE)'

describe("stock lua5.4", function()
  it("loads and unloads mmnet 50 times in a row", function()
    for i = 1, 50 do
      local ok, code, out = helper.lua_run('require "mmnet"', { timeout = 20 })
      assert.is_true(ok, "run " .. i .. " exited " .. tostring(code) .. ":\n" .. out)
    end
  end)
end)

describe("the C test host", function()
  it("reports a Lua error with a nonzero exit", function()
    local ok, code, out = host("", 'error("boom")')
    assert.is_false(ok)
    assert.are.equal(1, code)
    assert.is_truthy(out:find("boom", 1, true), out)
  end)

  it("sets STATE_INDEX, STATE_COUNT and ROUND, and calls STEP until it is done", function()
    local ok, _, out = host("--states 2 --rounds 2", [[
      print("state", STATE_INDEX, STATE_COUNT, ROUND)
      local n = 0
      function STEP() n = n + 1; if n == 3 then print("stepped", STATE_INDEX) end; return n < 3 end
    ]])
    assert.is_true(ok, out)
    for _, line in ipairs { "state\t1\t2\t1", "state\t2\t2\t1", "state\t2\t2\t2", "stepped\t2" } do
      assert.is_truthy(out:find(line, 1, true), out)
    end
  end)

  it("opens and closes states that require mmnet, one after another", function()
    local ok, _, out = host("--rounds 50", REQUIRE)
    assert.is_true(ok, out)
  end)

  it("keeps several states open at once and closes them in different orders", function()
    local ok, _, out = host("--states 5 --rounds 12", REQUIRE)
    assert.is_true(ok, out)
  end)

  it("runs states on their own threads at the same time", function()
    local ok, _, out = host("--threads --states 2 --rounds 25", REQUIRE)
    assert.is_true(ok, out)
    ok, _, out = host("--threads --states 6 --rounds 5", REQUIRE)
    assert.is_true(ok, out)
  end)
end)

describe("the C test host under valgrind", function()
  --- Asserts a clean memcheck run: exit 0, no errors, no definite leak left unsuppressed.
  local function assert_clean(ok, code, out)
    assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. out)
    assert.is_truthy(out:find("ERROR SUMMARY: 0 errors", 1, true), out)
    local lost = out:match("definitely lost: ([%d,]+) bytes")
    assert.is_true(lost == nil or lost == "0", out)
  end

  it("is clean for states opened and closed one after another", function()
    assert_clean(host("--rounds 4", REQUIRE, { valgrind = true }))
  end)

  it("is clean for several states at once, closed in different orders", function()
    assert_clean(host("--states 3 --rounds 3", REQUIRE, { valgrind = true }))
  end)

  it("is clean for states on their own threads", function()
    assert_clean(host("--threads --states 2 --rounds 3", REQUIRE, { valgrind = true }))
  end)

  it("is clean with the bare library as mmnet.so (the host way)", function()
    local dir = helper.tempdir()
    finally(function() helper.cleanup(dir) end)
    assert(helper.run("cp " .. helper.quote(helper.library) .. " " .. helper.quote(dir .. "/mmnet.so"), 30))
    assert_clean(host("--rounds 3", REQUIRE, { valgrind = true, tree = dir, cpath = dir .. "/?.so" }))
  end)
end)

-- Several states in one process, each with a live server, client and traffic (tests/host/
-- traffic.lua): each sees only its own events; closing them, in various orders and with
-- objects open, disconnected or collected and messages in flight, ends cleanly.
describe("the C test host with traffic in every state", function()
  local TRAFFIC = helper.root .. "/tests/host/traffic.lua"

  --- Asserts every state of every round reported its 50 echoes.
  local function assert_traffic(out, states, rounds)
    for round = 1, rounds do
      for state = 1, states do
        local line = ("traffic: state %d round %d: 50 sent, 50 received, 50 echoed"):format(state, round)
        assert.is_truthy(out:find(line, 1, true), "missing: " .. line .. "\n" .. out)
      end
    end
  end

  it("exchanges messages in 4 states at once, closed in different orders", function()
    local ok, code, out = host("--states 4 --rounds 6", TRAFFIC, { file = true })
    assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. out)
    assert_traffic(out, 4, 6)
  end)

  it("exchanges messages in 4 states on their own threads", function()
    local ok, code, out = host("--threads --states 4 --rounds 4", TRAFFIC, { file = true })
    assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. out)
    assert_traffic(out, 4, 4)
  end)

  it("is clean under valgrind, states at once and on threads", function()
    for _, args in ipairs { "--states 3 --rounds 3", "--threads --states 3 --rounds 2" } do
      local ok, code, out = host(args, TRAFFIC, { file = true, valgrind = true })
      assert.is_true(ok, args .. ": exit " .. tostring(code) .. ":\n" .. out)
      assert.is_truthy(out:find("ERROR SUMMARY: 0 errors", 1, true), out)
      local lost = out:match("definitely lost: ([%d,]+) bytes")
      assert.is_true(lost == nil or lost == "0", out)
    end
  end)
end)
