-- The benchmark suite of `make bench`, run briefly (BENCH_QUICK=1) as a smoke check: every
-- contender runs every workload it takes part in, and the run prints the table, writes
-- results.txt and sweep.dat, and plots throughput.png. It asserts that the suite works, not
-- how fast mmnet is (a timed assertion would be flaky on a shared two-core machine).
--
-- Thread: the busted process's Lua thread only; the suite runs in child processes.
local helper = require "helper"

describe("make bench BENCH_QUICK=1", function()
  local dir, ok, code, output

  setup(function()
    dir = helper.tempdir()
    -- What `make bench` runs, against the tree `make test-lua` installed (so the tree is not
    -- rebuilt under the other specs' feet). LUA_PATH keeps the system paths: LuaSocket, cjson, luv.
    local env = "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 BENCH_QUICK=1" ..
      " LUA_PATH=" .. helper.quote(helper.tree .. "/share/lua/5.4/?.lua;;") ..
      " LUA_CPATH=" .. helper.quote(helper.tree .. "/lib/lua/5.4/?.so;;")
    -- Under a sanitizer mmnet runs 10 to 100 times slower (`make test-tsan` on a busy
    -- machine: 47 s into the sweep at the 50 s limit); it still gets every workload run.
    ok, code, output = helper.run("cd " .. helper.quote(helper.root) .. " && " .. env ..
      " sh bench/run.sh " .. helper.quote(dir), helper.sanitizer and 300 or 50)
  end)

  teardown(function()
    if dir then helper.cleanup(dir) end
  end)

  it("exits 0 and prints the table with a row for every workload and contender", function()
    assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. output)
    for _, row in ipairs({"bare%-Lua ceiling%s+%d+ tables/s", "1 one%-way", "2 ping%-pong",
        "raw C %(32 bytes%)%s+p50 [%d.]+ us, p99 [%d.]+ us", "3 one%-way 1 MiB",
        "raw C %(1 MiB writes%)%s+%d+ MB/s", "4 encrypted", "5 1000 clients on one server",
        "6 broadcast to 200 clients", "targets %(ratios from this run%)", "%d+ targets met, %d+ missed"}) do
      assert.truthy(output:find(row), "no " .. row .. " in:\n" .. output)
    end
    for _, contender in ipairs({"mmnet", "LuaSocket %+ cjson", "luv %+ cjson"}) do
      assert.truthy(output:find("\n%s+" .. contender .. "%s+%d+ msgs/s"), contender .. " small one-way:\n" .. output)
      assert.truthy(output:find("\n%s+" .. contender .. "%s+p50 [%d.]+ us"), contender .. " ping-pong:\n" .. output)
      assert.truthy(output:find("\n%s+" .. contender .. "%s+%d+ MB/s"), contender .. " 1 MiB:\n" .. output)
    end
    assert.truthy(output:find("\n%s+mmnet, SpinWait 0%s+p50 [%d.]+ us"), "mmnet without spinning, ping-pong:\n" .. output)
    assert.truthy(output:find("all connected in [%d.]+ s; broadcast in all [%d.]+ ms"), output)
    assert.truthy(output:find("last one has it after p50 [%d.]+ ms, max [%d.]+ ms; the call [%d.]+ ms"), output)
    -- Encrypted: figures once encryption exists, the n/a line until then; never a failure.
    assert.truthy(output:find("encrypted %(128%-bit key%): small tables%s+mmnet%s+%d+ msgs/s") or
      output:find("n/a %(encryption not available%)"), output)
    assert.truthy(output:find("encrypted: ping%-pong round trip%s+mmnet%s+p50 [%d.]+ us") or
      output:find("n/a %(encryption not available%)"), output)
    assert.falsy(output:find("failed"), output)
  end)

  it("writes results.txt, the sweep for every size and the plot", function()
    local results = helper.read_file(dir .. "/results.txt")
    assert.truthy(results and results:find("targets %(ratios from this run%)"), results)
    local rows = 0
    for line in io.lines(dir .. "/sweep.dat") do
      if not line:find("^#") then
        rows = rows + 1
        -- size, raw C, mmnet, LuaSocket, luv: numbers; the encrypted column may be NaN.
        assert.truthy(line:find("^%d+ [%d.]+ [%d.]+ [%d.]+ [%d.]+ [%w.]+$"), line)
      end
    end
    assert.are.equal(9, rows)
    local png = helper.read_file(dir .. "/throughput.png")
    assert.truthy(png and png:sub(1, 8) == "\137PNG\r\n\26\n", "no PNG plot:\n" .. output)
  end)
end)
