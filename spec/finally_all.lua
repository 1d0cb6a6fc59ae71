-- A busted helper (`--helper`): every `finally` a test registers runs at its end, the last
-- first. busted itself keeps only the last one, so what the others were to close (a server
-- process, a relay, a temp dir) was left running into the specs after it.
--
-- Thread: the busted process's Lua thread only.
local busted = require "busted"

busted.subscribe({ "test", "start" }, function(element)
  local register, cleanups = element.env.finally, {}
  element.env.finally = function(cleanup)
    cleanups[#cleanups + 1] = cleanup
    -- Registered again each time: the one busted keeps runs them all.
    register(function()
      local first
      for i = #cleanups, 1, -1 do
        local ok, err = pcall(cleanups[i])
        if not ok and first == nil then first = err end
      end
      if first ~= nil then error(first, 0) end
    end)
  end
  return nil, true
end)
