-- bench/luv_frames.lua: the framing of the luv + lua-cjson contender in `make bench`: a reader
-- that turns the chunks libuv delivers into JSON messages (4-byte big-endian length + body),
-- keeping pending chunks in a list so that large messages are joined once, not re-copied.
--
-- Thread: the Lua thread of a luv event loop.

local cjson = require "cjson"
local decode, unpack, concat = cjson.decode, string.unpack, table.concat

--- Returns a function(chunk) that calls on_message(table) for each complete frame.
return function(on_message)
  local parts, have, need = {}, 0, 4
  return function(chunk)
    parts[#parts + 1] = chunk
    have = have + #chunk
    if have < need then return end
    local buf = #parts == 1 and parts[1] or concat(parts)
    local pos, len = 1, #buf
    while len - pos + 1 >= 4 do
      local size = unpack(">I4", buf, pos)
      if len - pos + 1 < 4 + size then
        need = 4 + size
        break
      end
      on_message(decode(buf:sub(pos + 4, pos + 3 + size)))
      pos = pos + 4 + size
      need = 4
    end
    if pos > len then
      parts, have = {}, 0
    else
      local rest = buf:sub(pos)
      parts, have = {rest}, #rest
    end
  end
end
