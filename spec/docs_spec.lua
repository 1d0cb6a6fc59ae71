-- The documents against the code: docs/API.md has a "### " section for every name the module
-- registers (functions, constants, _VERSION), every method of the three object types, every
-- setting Configure returns and every event field, in the fixed shape; and the version agrees
-- across the rockspec, _VERSION, CHANGELOG.md and Sources/MMNetCore/Version.swift.
--
-- Thread: the busted process's Lua thread only. Every wait has a time limit.
local helper = require "helper"
local net = require "nethelper"
local network = net.network

local api = assert(helper.read_file(helper.root .. "/docs/API.md"), "docs/API.md is missing")

--- The "### " headings of docs/API.md, in order, and the text of each section.
local headings, sections = {}, {}
do
  local current
  for line in (api .. "\n"):gmatch("([^\n]*)\n") do
    local heading = line:match("^### (.+)$")
    if heading then
      current = heading
      headings[#headings + 1] = heading
      sections[heading] = ""
    elseif line:match("^##? ") then
      current = nil
    elseif current then
      sections[current] = sections[current] .. line .. "\n"
    end
  end
end

--- The heading whose first word is exactly `prefix .. name` (followed by "(", " " or the end).
local function find_heading(prefix, name)
  local wanted = prefix .. name
  for _, h in ipairs(headings) do
    if h == wanted or h:sub(1, #wanted + 1) == wanted .. "(" or h:sub(1, #wanted + 1) == wanted .. " " then
      return h
    end
  end
  return nil
end

--- Sorted keys of a table.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Asserts that a function or method section has the fixed shape.
local function assert_shape(heading)
  local text = sections[heading]
  for _, part in ipairs { "**Parameters**", "**Returns**", "**Errors**", "**Example**" } do
    assert.is_truthy(text:find(part, 1, true), "section '" .. heading .. "' has no " .. part)
  end
end

describe("docs/API.md", function()
  local server, client, connection, connect_event, connected_event

  setup(function()
    net.reset()
    server = assert(network.Server("127.0.0.1", 0))
    client = assert(network.Client("127.0.0.1", server:GetPort()))
    local e = net.wait({ Event = network.EVENT_CONNECT }, 10)
    assert(e, "no EVENT_CONNECT: " .. net.describe_pending())
    connection = e.Object
    connected_event = net.wait({ Event = network.EVENT_CONNECTED }, 10)
    assert(connected_event, "no EVENT_CONNECTED: " .. net.describe_pending())
    connect_event = e
  end)

  teardown(function()
    client:Disconnect()
    server:Disconnect(connection)
    net.reset()
  end)

  it("has a section for every name the module registers, functions in the fixed shape", function()
    local missing = {}
    for _, name in ipairs(sorted_keys(network)) do
      local h = find_heading("network.", name)
      if not h then
        missing[#missing + 1] = "network." .. name
      elseif type(network[name]) == "function" then
        assert_shape(h)
      end
    end
    assert.are.same({}, missing)
  end)

  it("has a section for every method of Server, Client and ClientConnection, in the fixed shape", function()
    local missing = {}
    for prefix, object in pairs { ["server:"] = server, ["client:"] = client, ["connection:"] = connection } do
      local methods = getmetatable(object).__index
      assert.are.equal("table", type(methods))
      for _, name in ipairs(sorted_keys(methods)) do
        local h = find_heading(prefix, name)
        if h then assert_shape(h) else missing[#missing + 1] = prefix .. name end
      end
    end
    assert.are.same({}, missing)
  end)

  it("documents nothing the module does not register", function()
    local methods = {
      ["server:"] = getmetatable(server).__index,
      ["client:"] = getmetatable(client).__index,
      ["connection:"] = getmetatable(connection).__index,
    }
    for _, h in ipairs(headings) do
      local name = h:match("^network%.([%w_]+)")
      if name then assert.is_not_nil(network[name], "documented but not registered: " .. h) end
      for prefix, table_ in pairs(methods) do
        local method = h:match("^" .. prefix:gsub("%p", "%%%0") .. "([%w_]+)")
        if method then assert.is_not_nil(table_[method], "documented but not registered: " .. h) end
      end
    end
  end)

  it("has a section for every setting Configure returns", function()
    local missing = {}
    for _, name in ipairs(sorted_keys(network.Configure())) do
      if not find_heading("settings.", name) then missing[#missing + 1] = "settings." .. name end
    end
    assert.are.same({}, missing)
  end)

  it("has a section for every field of the event tables", function()
    local fields = {}
    -- Fields seen on real events: EVENT_CONNECT (server side), EVENT_CONNECTED (client side),
    -- EVENT_RECEIVE, and the EVENT_ERROR of a peer that is not mmnet.
    client:Send({ 1 })
    local received = net.wait({ Event = network.EVENT_RECEIVE }, 10)
    assert(received, net.describe_pending())
    local raw = net.raw_connect(server:GetPort())
    raw:send("GET / HTTP/1.0\r\n\r\n")
    local error_event = net.wait({ Event = network.EVENT_ERROR, Object = server }, 10)
    raw:close()
    assert(error_event, net.describe_pending())
    for _, e in ipairs { connect_event, connected_event, received, error_event } do
      for k in pairs(e) do fields[k] = true end
    end
    local missing = {}
    for _, name in ipairs(sorted_keys(fields)) do
      if not find_heading("event.", name) then missing[#missing + 1] = "event." .. name end
    end
    assert.are.same({}, missing)
  end)

  it("names every statistics field", function()
    local names = {}
    for k in pairs(network.GetStats()) do names[#names + 1] = k end
    for k in pairs(client:GetStats()) do names[#names + 1] = k end
    for _, k in ipairs { "RTT", "SmoothedRTT" } do names[#names + 1] = k end
    for _, k in ipairs(names) do
      assert.is_truthy(api:find("`" .. k .. "`", 1, true), "statistics field " .. k .. " is not in docs/API.md")
    end
  end)

  it("lists every setting Configure returns in the overview's settings table", function()
    -- SpinWait was missing there (found by a review of the contract, 2026-12-06).
    local overview = assert(api:match("## Overview\n(.-)\n## "), "no '## Overview' section")
    local listed = {}
    for name in assert(overview:match("settings = (%b{})"), "no settings = { ... } in the overview"):gmatch("%a+") do
      listed[name] = true
    end
    local missing = {}
    for _, name in ipairs(sorted_keys(network.Configure())) do
      if not listed[name] then missing[#missing + 1] = name end
    end
    assert.are.same({}, missing)
  end)

  it("opens with every signature on one screen, each one a section", function()
    local overview = api:match("## Overview\n(.-)\n## ")
    assert(overview, "no '## Overview' section before the first other '## ' section")
    local lines = select(2, overview:gsub("\n", ""))
    assert.is_true(lines <= 60, "the overview is " .. lines .. " lines: more than one screen")
    for _, h in ipairs(headings) do
      if h:match("^network%.") or h:match("^%a+:") then
        local signature = h:gsub(" %(extension%)$", "")
        assert.is_truthy(overview:find(signature, 1, true), "not in the overview: " .. signature)
      end
    end
  end)
end)

describe("the version", function()
  it("agrees across the rockspec, _VERSION, CHANGELOG.md and Version.swift", function()
    local version, rockspec = helper.rockspec_version()
    assert.is_truthy(version:match("^%d+%.%d+%.%d+$"), "not X.Y.Z: " .. version)
    local file_version = rockspec:match("mmnet%-(%d+%.%d+%.%d+)%-%d+%.rockspec$")
    assert.are.equal(version, file_version, "rockspec file name " .. rockspec)
    assert.are.equal("mmnet " .. version, network._VERSION)
    local changelog = assert(helper.read_file(helper.root .. "/CHANGELOG.md"), "CHANGELOG.md is missing")
    local top = changelog:match("\n## %[([^%]]+)%]")
    assert.are.equal(version, top, "the top entry of CHANGELOG.md")
    local swift = assert(helper.read_file(helper.root .. "/Sources/MMNetCore/Version.swift"))
    assert.are.equal(version, swift:match('mmnetVersion%s*=%s*"([^"]+)"'))
    local readme = assert(helper.read_file(helper.root .. "/README.md"))
    assert.is_truthy(readme:find("mmnet-" .. version .. "-1.rockspec", 1, true), "README names another rockspec")
  end)

  it("has a LICENSE (MIT)", function()
    local license = assert(helper.read_file(helper.root .. "/LICENSE"), "LICENSE is missing")
    assert.is_truthy(license:find("MIT License", 1, true))
    assert.is_truthy(license:find("WITHOUT WARRANTY OF ANY KIND", 1, true))
  end)
end)

describe("PROTOCOL.md's note on Python and TLS PSK", function()
  it("still holds: /usr/bin/python3's ssl module has no external PSK support", function()
    -- PROTOCOL.md and the README say there is no Python TLS example because of this; if a
    -- newer Python adds it, this fails so that the example gets written.
    local ok, _, out = helper.run("/usr/bin/python3 -c 'import ssl; print(hasattr(ssl.SSLContext, \"set_psk_client_callback\"))'", 15)
    assert.is_true(ok, out)
    assert.are.equal("False", out:match("%S+"))
    local protocol = assert(helper.read_file(helper.root .. "/PROTOCOL.md"))
    assert.is_truthy(protocol:find("set_psk_client_callback", 1, true))
  end)
end)
