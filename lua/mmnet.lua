-- mmnet: the pure-Lua helper that stock lua5.4 loads with `require "mmnet"`.
--
-- Thread: Lua thread only.
--
-- It finds the native half, `mmnet.core` (mmnet/core.so), first on package.cpath as usual and
-- otherwise in the standard tree this file was installed into (PREFIX/share/lua/5.4/mmnet.lua
-- next to PREFIX/lib/lua/5.4/mmnet/core.so), so setting LUA_PATH alone is enough. It returns
-- the native module table unchanged: every function of the API lives in the native core.
-- That table is left in `package.loaded` as "mmnet" only: under "mmnet.core" too, Lua's
-- argument errors of a function called without a name (`pcall(network.Server)`) named it
-- 'mmnet.Server' or 'mmnet.core.Server' at random, the order of `package.loaded` being
-- hashed with each state's seed.

--- The file `require` found this helper in: its loader's second argument (no debug library
-- needed, which a sandbox may lack); nil when loaded some other way.
local this_file = select(2, ...)

local function beside_this_file()
  if type(this_file) ~= "string" then return nil end
  local dir = this_file:match("^(.*)[/\\]mmnet%.lua$")
  if not dir then return nil end
  local prefix = dir:match("^(.*)[/\\]share[/\\]lua[/\\]5%.4$")
  if not prefix then return nil end
  return package.searchpath("mmnet.core", prefix .. "/lib/lua/5.4/?.so")
end

local found = package.searchpath("mmnet.core", package.cpath)
if found or package.preload["mmnet.core"] then
  local core = require "mmnet.core"
  package.loaded["mmnet.core"] = nil
  return core
end

local path = beside_this_file()
if not path then
  error("mmnet: native library mmnet/core.so not found on package.cpath:\n\t" ..
    package.cpath:gsub(";", "\n\t"), 2)
end
local open = assert(package.loadlib(path, "luaopen_mmnet_core"))
return open("mmnet.core")
