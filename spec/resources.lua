-- Resource gauges for the robustness specs: this process's open descriptors and resident
-- memory, read from /proc, to show that hostile peers, churn and soaks leave nothing behind.
--
-- Thread: the busted process's Lua thread only.
local resources = {}

--- Whether RSS says anything about mmnet's memory: not under a sanitizer (`make test-asan`
-- keeps freed memory in quarantine on purpose, so RSS grows with traffic whatever mmnet does).
resources.rss_meaningful = os.getenv("MMNET_SANITIZER") == nil

--- Asserts that RSS grew by less than `limit_kb` (a no-op when RSS is not meaningful).
function resources.assert_rss_growth(grown_kb, limit_kb, what)
  if not resources.rss_meaningful then return end
  assert(grown_kb < limit_kb, string.format("RSS grew by %d KiB (limit %d KiB) %s", grown_kb, limit_kb, what or ""))
end

--- This process's id (the first field of /proc/self/stat).
function resources.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = tonumber(f:read("a"):match("^(%d+)"))
  f:close()
  return pid
end

--- How many descriptors this process has open (a listing of /proc/PID/fd; the listing's own
-- pipe is counted the same way every time).
function resources.fd_count()
  local pipe = assert(io.popen("ls /proc/" .. resources.pid() .. "/fd"))
  local n = 0
  for _ in pipe:lines() do n = n + 1 end
  pipe:close()
  return n
end

--- A line of /proc/self/status, in KiB.
local function status_kb(field)
  local f = assert(io.open("/proc/self/status"))
  local kb = tonumber(f:read("a"):match(field .. ":%s*(%d+)"))
  f:close()
  return kb
end

--- This process's resident set, in KiB (VmRSS of /proc/self/status).
function resources.rss_kb()
  return status_kb("VmRSS")
end

--- This process's peak resident memory since `reset_peak_rss` (VmHWM), in KiB.
function resources.peak_rss_kb()
  return status_kb("VmHWM")
end

--- Sets this process's peak resident memory back to its current RSS (Linux: 5 written to
-- /proc/self/clear_refs), so that `peak_rss_kb` measures what comes next.
function resources.reset_peak_rss()
  local f = assert(io.open("/proc/self/clear_refs", "w"))
  f:write("5")
  f:close()
end

--- Runs a full garbage collection twice, then reads the RSS.
function resources.settled_rss_kb()
  collectgarbage()
  collectgarbage()
  return resources.rss_kb()
end

--- Waits up to `seconds` for this process to have exactly `n` descriptors open (the I/O thread
-- closes a socket just after queuing its last event, so a count right after the event may be
-- one high for a moment).
-- @return integer the count last seen
function resources.wait_fd_count(n, seconds)
  local socket = require "socket"
  local limit = socket.gettime() + (seconds or 5)
  local count = resources.fd_count()
  while count ~= n and socket.gettime() < limit do
    socket.sleep(0.02)
    count = resources.fd_count()
  end
  return count
end

--- The number of descriptors open once it has stayed the same for 0.2 s (at most 5 s): a
-- baseline that a socket still being closed (see `wait_fd_count`) does not make one high.
-- @return integer the count last seen
function resources.settled_fd_count()
  local socket = require "socket"
  local limit = socket.gettime() + 5
  local count, stable_since = resources.fd_count(), socket.gettime()
  while socket.gettime() - stable_since < 0.2 and socket.gettime() < limit do
    socket.sleep(0.02)
    local now = resources.fd_count()
    if now ~= count then count, stable_since = now, socket.gettime() end
  end
  return count
end

return resources
