-- Deep nesting and the C stack: a message nested as deep as MaxDepth allows must not run the
-- threads that read it out of stack. Each case runs spec/peers/deep.lua under a small
-- `ulimit -s` (which is also the default stack of the threads a process starts), so that a
-- reader taking too much stack per level crashes it (before the reader kept its recursion in
-- small frames, a 1000-deep Decode needed 2 MiB of stack and crashed at 1 MiB).
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"
local net = require "nethelper"

--- Runs the deep peer under `ulimit -s kib`; returns its output and whether it exited 0.
local function run_deep(kib, depth, mode)
  local command = "ulimit -s " .. kib .. " && timeout 30 sh -c " ..
    helper.quote(net.peer_command("deep", depth, mode)) .. " 2>&1"
  local pipe = assert(io.popen(command))
  local output = pipe:read("a")
  local ok = pipe:close()
  return output, ok
end

describe("messages nested MaxDepth deep", function()
  it("1000 levels (the largest MaxDepth): Encode, Decode and PollEvents with a 1 MiB stack", function()
    if helper.sanitizer then
      -- Sanitizer builds are unoptimised and pad every frame: the figure is the release build's.
      pending("stack use per level is measured on the release build, not under " .. helper.sanitizer)
      return
    end
    local output, ok = run_deep(1024, 1000, "all")
    assert.is_true(ok, output)
    assert.are.equal("OK\n", output)
  end)

  it("1000 levels reach a script whose host runs with a 256 KiB stack limit: the I/O thread has its own", function()
    local output, ok = run_deep(256, 1000, "network")
    assert.is_true(ok, output)
    assert.are.equal("OK\n", output)
  end)

  it("64 levels (the default MaxDepth): everything with a 256 KiB stack", function()
    local output, ok = run_deep(256, 64, "all")
    assert.is_true(ok, output)
    assert.are.equal("OK\n", output)
  end)
end)
