-- The demo (examples/demo.sh, `make demo`): a server and a client in two lua5.4 processes
-- exchange a few tables, print their events, and end with exit 0 within a few seconds.
--
-- Thread: the busted process's Lua thread only.
local helper = require "helper"

describe("the demo", function()
  it("runs two processes that exchange tables and end cleanly within a few seconds", function()
    local path = helper.tree .. "/share/lua/5.4/?.lua;;"
    local cpath = helper.tree .. "/lib/lua/5.4/?.so;;"
    local start = os.time()
    local ok, code, out = helper.run("env LUA_PATH=" .. helper.quote(path) .. " LUA_CPATH=" ..
      helper.quote(cpath) .. " sh " .. helper.quote(helper.root .. "/examples/demo.sh"), 20)
    assert.is_true(ok, "exit " .. tostring(code) .. ":\n" .. out)
    assert.is_true(os.time() - start <= 6, "took " .. (os.time() - start) .. " s")
    for _, line in ipairs { "server: EVENT_CONNECT", "client: EVENT_CONNECTED", "client:   got Hello Client",
        "server:   got OpCode=3 Data=Last one", "client:   got OpCode=3 Data=echo: Last one",
        "server: EVENT_CLIENT_CLOSE", "demo: OK" } do
      assert.is_truthy(out:find(line, 1, true), "missing " .. line .. ":\n" .. out)
    end
  end)
end)
