-- Checks of the shared spec helpers themselves (spec/helper.lua): time limits, subprocesses,
-- temp dirs and background processes, which the networking specs rely on.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

describe("helper.run", function()
  it("returns ok, the exit code and the output", function()
    local ok, code, out = helper.run("echo out; echo err >&2; exit 3")
    assert.is_false(ok)
    assert.are.equal(3, code)
    assert.is_truthy(out:find("out\n", 1, true) and out:find("err\n", 1, true), out)
  end)

  it("stops a command at its time limit (exit code 124)", function()
    local ok, code = helper.run("sleep 30", 1)
    assert.is_false(ok)
    assert.are.equal(124, code)
  end)

  it("quotes words for the shell", function()
    local ok, _, out = helper.run("printf %s " .. helper.quote("it's $HOME"))
    assert.is_true(ok)
    assert.are.equal("it's $HOME", out)
  end)
end)

describe("helper.tempdir", function()
  it("makes a directory that cleanup removes", function()
    local dir = helper.tempdir()
    helper.write_file(dir .. "/f", "x")
    assert.are.equal("x", helper.read_file(dir .. "/f"))
    helper.cleanup(dir)
    assert.is_nil(helper.read_file(dir .. "/f"))
    assert.has_error(function() helper.cleanup("/tmp") end)
  end)
end)

describe("helper.spawn", function()
  it("waits for a line of a background lua5.4, then kills it", function()
    local proc = helper.spawn(helper.tree_env() .. " " .. helper.lua ..
      [[ -e 'io.stdout:setvbuf("line"); print("ready " .. require("mmnet")._VERSION); os.execute("sleep 30")']])
    finally(function() proc:close() end)
    assert.is_truthy(proc:wait_for("^ready mmnet ", 10), proc:output())
    assert.is_nil(proc:exit_code())
    assert.are.equal(143, proc:kill())
  end)

  it("reports the exit code of a process that ends by itself", function()
    local proc = helper.spawn("echo done; exit 7")
    finally(function() proc:close() end)
    assert.are.equal(7, proc:wait(10))
    assert.are.equal("done\n", proc:output())
    assert.is_nil(proc:wait_for("^never$", 5))
  end)

  it("can keep a process's stdin open", function()
    local proc = helper.spawn("read line; echo got", { stdin_open = true, timeout = 5 })
    finally(function() proc:close() end)
    assert.is_nil(proc:wait_for("^got$", 0.5))
    assert.is_nil(proc:exit_code())
    helper.write_file(proc.stdin, "hello\n")
    assert.is_truthy(proc:wait_for("^got$", 5), proc:output())
    assert.are.equal(0, proc:wait(5))
  end)

  it("kills a process whose stdin is kept open", function()
    local proc = helper.spawn("read line", { stdin_open = true, timeout = 30 })
    finally(function() proc:close() end)
    assert.are.equal(143, proc:kill())
  end)
end)
