-- bench/run.lua: the driver of `make bench`. Runs every contender on every workload (each
-- sender and receiver a separate process), computes the ratios of the same run against the
-- targets of issue 7, and writes out/bench/results.txt (the table, also printed) and
-- out/bench/sweep.dat (throughput against message size, for bench/plot.gp). Progress goes to
-- stderr.
--
-- Thread: single-threaded lua5.4 process; it starts the contenders with io.popen.
--
-- Usage: lua5.4 bench/run.lua OUTDIR RAW_TCP_BINARY    (BENCH_QUICK=1: every workload, briefly)
-- bench/run.sh sets the fd limit and the Lua paths, builds raw_tcp and plots.

assert(_VERSION == "Lua 5.4", "run with lua5.4, not " .. _VERSION)
local dir = arg[0]:gsub("[^/]*$", "")
package.path = dir .. "?.lua;" .. package.path
local common = require "common"

local outdir = assert(arg[1], "OUTDIR missing")
local raw = assert(arg[2], "RAW_TCP_BINARY missing")
local quick = (os.getenv("BENCH_QUICK") or "") ~= "" and os.getenv("BENCH_QUICK") ~= "0"
local lua = os.getenv("LUA") or "lua5.4"
local KEY128 = "0C03EA65238DD2C25EB87CE563868098"
local MiB = 1024 * 1024

-- Sizes of the workloads, full and quick. Throughput figures are the best of `reps` runs.
local W = quick and {
  small = 20000, reps = 1, ping = 300, bulk = 16, ceiling = 100000,
  sweep_bytes = 4 * MiB, sweep_min = 4, sweep_max = 4000,
  many = 1000, many_rounds = 1, fan = 200, fan_rounds = 5,
} or {
  small = 300000, reps = 3, ping = 5000, bulk = 256, ceiling = 1000000,
  sweep_bytes = 256 * MiB, sweep_min = 32, sweep_max = 200000,
  many = 10000, many_rounds = 3, fan = 1000, fan_rounds = 20,
}
local SWEEP = {64, 256, 1024, 4096, 16384, 65536, 262144, MiB, 4 * MiB}

local quote = function(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end
local started = common.now()
local function progress(fmt, ...)
  io.stderr:write(string.format("[bench %6.1f s] " .. fmt .. "\n", common.now() - started, ...))
  io.stderr:flush()
end

-- Parses key=value lines.
local function parse(text, into)
  into = into or {}
  for k, v in text:gmatch("([%w_]+)=([^\n]*)") do into[k] = tonumber(v) or v end
  return into
end

local errfile = outdir .. "/stderr.log"
-- A command line with a time limit, stderr appended to the log.
local function limited(cmd, seconds)
  return string.format("timeout -k 5 %d sh -c %s 2>>%s", seconds, quote(cmd), quote(errfile))
end

--- Runs one receiver and one sender: `recv` is a command printing "PORT n" first; `send(port)`
-- returns the sender's command. Returns the key=value results of both, or nil and why. A
-- receiver left waiting by a failed sender is stopped (by the pid of its `timeout`).
local function pair(recv, send, seconds)
  seconds = seconds or 300
  local r = assert(io.popen("sh -c " .. quote("echo PID $$; exec " .. limited(recv, seconds)), "r"))
  local pid = (r:read("l") or ""):match("^PID (%d+)")
  local first = r:read("l")
  local port = first and first:match("^PORT (%d+)")
  if not port then
    local rest = (first or "") .. (r:read("a") or "")
    r:close()
    return nil, "receiver did not start: " .. rest
  end
  local s = assert(io.popen(limited(send(port), seconds), "r"))
  local sent = s:read("a")
  local sok, _, scode = s:close()
  if not sok and pid then os.execute("kill " .. pid .. " 2>/dev/null") end
  local got = r:read("a")
  local rok, _, rcode = r:close()
  local res = parse(got, parse(sent))
  if res.error then return nil, tostring(res.error) end
  if not sok then return nil, "sender failed (" .. tostring(scode) .. "), see " .. errfile end
  if not rok then return nil, "receiver failed (" .. tostring(rcode) .. "), see " .. errfile end
  return res
end

local contenders = {
  mmnet = {name = "mmnet", recv = dir .. "mmnet_recv.lua", send = dir .. "mmnet_send.lua"},
  luasocket = {name = "LuaSocket + cjson", recv = dir .. "luasocket_recv.lua", send = dir .. "luasocket_send.lua"},
  luv = {name = "luv + cjson", recv = dir .. "luv_recv.lua", send = dir .. "luv_send.lua"},
  -- mmnet without its spin before sleeping in PollEvents (README, "SpinWait"): workload 2 only.
  mmnet_nospin = {name = "mmnet, SpinWait 0", recv = dir .. "mmnet_recv.lua", send = dir .. "mmnet_send.lua",
    env = "env BENCH_SPIN_WAIT=0 "},
}

--- One-way run of `count` messages of a Lua contender; returns seconds, or nil and why.
local function one_way(c, kind, count, size, key)
  local res, why = pair(
    string.format("%s %s %s %d %d %s", lua, c.recv, kind, count, size, key or ""),
    function(port) return string.format("%s %s %s %s %d %d %s", lua, c.send, kind, port, count, size, key or "") end)
  if not res then return nil, why end
  if not (res.t_start and res.t_end) then return nil, "no timing printed" end
  return res.t_end - res.t_start
end

--- The best of `reps` one-way runs (fewest seconds), or nil and why.
local function best_one_way(c, kind, count, size, key, reps)
  local best
  for _ = 1, reps do
    local s, why = one_way(c, kind, count, size, key)
    if not s then return nil, why end
    best = math.min(best or math.huge, s)
  end
  return best
end

--- Raw C stream of `count` writes of `size` bytes; returns seconds or nil and why.
local function raw_stream(size, count)
  local res, why = pair(raw .. " sink", function(port) return string.format("%s stream %s %d %d", raw, port, size, count) end)
  if not res then return nil, why end
  if res.bytes ~= size * count then return nil, "raw sink got " .. tostring(res.bytes) .. " bytes" end
  return res.t_end - res.t_start
end

local function ping(c, count, key)
  local env = c.env or ""
  return pair(string.format("%s%s %s echo %d 0 %s", env, lua, c.recv, count, key or ""),
    function(port) return string.format("%s%s %s ping %s %d 0 %s", env, lua, c.send, port, count, key or "") end)
end

-- Results, filled in below.
local R = {}
local function note(key, value, why)
  R[key] = value
  if value == nil then R[key .. "_why"] = why end
end
local encrypted_available = true
local function enc_why(why)
  if why and why:find("encryption not available", 1, true) then
    encrypted_available = false
    return "n/a (encryption not available)"
  end
  return why
end

progress("mode: %s; output in %s", quick and "quick (BENCH_QUICK=1)" or "full", outdir)

-- Workloads 1 to 3 run their contenders round-robin, `reps` rounds, each keeping its best run,
-- so that a burst of load from elsewhere on the machine does not fall on one contender only.
-- Workload 4's encrypted runs take their turn in the rounds of workloads 1 and 3, so that the
-- encrypted / plaintext ratios too compare runs made under the same conditions.
local IDS = {"mmnet", "luasocket", "luv"}

--- Workload 4's turn in a round of workload 1 or 3: one encrypted mmnet run, kept in
-- `best.enc` (seconds; `why.enc` says why not, once encryption is known to be unavailable).
local function encrypted_turn(best, why, kind, count, size)
  if why.enc then return end
  local s, w = one_way(contenders.mmnet, kind, count, size, KEY128)
  if s then best.enc = math.min(best.enc or math.huge, s) else why.enc = enc_why(w) end
  local figure = s and (kind == "bulk" and string.format("%.0f MB/s", count * size / s / 1e6)
    or string.format("%.0f msgs/s", count / s))
  progress("4 encrypted %s: %s %s", kind, figure or "failed", w or "")
end

-- 1. One-way small tables.
do
  local best, why = {}, {}
  for rep = 1, W.reps do
    local p = assert(io.popen(limited(lua .. " " .. dir .. "ceiling.lua " .. W.ceiling, 120), "r"))
    local res = parse(p:read("a"))
    p:close()
    if res.msgs_per_s then R.ceiling = math.max(R.ceiling or 0, res.msgs_per_s) end
    progress("1 bare-Lua ceiling (round %d): %s tables/s", rep, tostring(res.msgs_per_s))
    for _, id in ipairs(IDS) do
      if not why[id] then
        local s, w = one_way(contenders[id], "small", W.small, 0)
        if s then best[id] = math.min(best[id] or math.huge, s) else why[id], best[id] = w, nil end
        progress("1 one-way small tables, %s (round %d): %s msgs/s %s", contenders[id].name, rep,
          s and string.format("%.0f", W.small / s) or "failed", w or "")
      end
    end
    encrypted_turn(best, why, "small", W.small, 0)
  end
  for _, id in ipairs(IDS) do note("small_" .. id, best[id] and W.small / best[id], why[id]) end
  note("small_enc", best.enc and W.small / best.enc, why.enc)
  if not R.ceiling then R.ceiling_why = "ceiling failed, see " .. errfile end
end

-- 2. Ping-pong: the run with the lowest p50 of each contender.
do
  local function keep(key, res, why)
    if not res then
      if R[key] == nil then note(key, nil, why) end
    elseif not R[key] or res.rtt_p50_us < R[key].rtt_p50_us then
      note(key, res)
    end
  end
  for rep = 1, W.reps do
    local res, why = pair(raw .. " pong", function(port) return string.format("%s ping %s %d", raw, port, W.ping) end)
    keep("ping_raw", res, why)
    progress("2 ping-pong raw C (round %d): p50 %s us", rep, res and tostring(res.rtt_p50_us) or tostring(why))
    for _, id in ipairs({"mmnet", "mmnet_nospin", "luasocket", "luv"}) do
      res, why = ping(contenders[id], W.ping)
      keep("ping_" .. id, res, why)
      progress("2 ping-pong %s (round %d): p50 %s us %s", contenders[id].name, rep,
        res and tostring(res.rtt_p50_us) or "failed", why or "")
    end
    -- Workload 4's ping-pong (a figure, not a target): mmnet with a key, in the same rounds.
    if encrypted_available then
      res, why = ping(contenders.mmnet, W.ping, KEY128)
      keep("ping_enc", res, res == nil and enc_why(why) or nil)
      progress("4 encrypted ping-pong (round %d): p50 %s us %s", rep,
        res and tostring(res.rtt_p50_us) or "failed", why or "")
    end
  end
end

-- 3. One-way 1 MiB payloads (the sweep comes after).
do
  -- `why.enc` is set at once when workload 1 found encryption unavailable.
  local best, why = {}, {enc = not encrypted_available and R.small_enc_why or nil}
  local function run(id, s, w)
    if s then best[id] = math.min(best[id] or math.huge, s) elseif not best[id] then why[id] = w end
    progress("3 1 MiB one-way %s: %s MB/s %s", id, s and string.format("%.0f", W.bulk * MiB / s / 1e6) or "failed", w or "")
  end
  for _ = 1, W.reps do
    run("raw", raw_stream(MiB, W.bulk))
    for _, id in ipairs(IDS) do run(id, one_way(contenders[id], "bulk", W.bulk, MiB)) end
    encrypted_turn(best, why, "bulk", W.bulk, MiB)
  end
  for _, id in ipairs({"raw", "mmnet", "luasocket", "luv"}) do
    note("bulk_" .. id, best[id] and W.bulk * MiB / best[id] / 1e6, why[id])
  end
  note("bulk_enc", best.enc and W.bulk * MiB / best.enc / 1e6, why.enc)
end

-- 3b. The sweep, for the plot.
local columns = {"raw", "mmnet", "luasocket", "luv", "mmnet_enc"}
local sweep = {}
for _, size in ipairs(SWEEP) do
  local count = math.max(W.sweep_min, math.min(W.sweep_max, W.sweep_bytes // size))
  local row = {size = size}
  local s
  for _ = 1, W.reps do
    local t = raw_stream(size, count)
    s = t and math.min(s or math.huge, t)
  end
  row.raw = s and count * size / s / 1e6
  for _, id in ipairs({"mmnet", "luasocket", "luv"}) do
    s = best_one_way(contenders[id], "bulk", count, size, nil, W.reps)
    row[id] = s and count * size / s / 1e6
  end
  if encrypted_available then
    s = best_one_way(contenders.mmnet, "bulk", count, size, KEY128, W.reps)
    row.mmnet_enc = s and count * size / s / 1e6
  end
  sweep[#sweep + 1] = row
  progress("3 sweep %7d B x %6d: raw %s, mmnet %s, LuaSocket %s, luv %s MB/s", size, count,
    tostring(row.raw and math.floor(row.raw)), tostring(row.mmnet and math.floor(row.mmnet)),
    tostring(row.luasocket and math.floor(row.luasocket)), tostring(row.luv and math.floor(row.luv)))
end
do
  local f = assert(io.open(outdir .. "/sweep.dat", "w"))
  f:write("# payload_bytes raw_C mmnet LuaSocket+cjson luv+cjson mmnet_encrypted   (MB/s, NaN = not run)\n")
  for _, row in ipairs(sweep) do
    f:write(row.size)
    for _, c in ipairs(columns) do f:write(" ", row[c] and string.format("%.2f", row[c]) or "NaN") end
    f:write("\n")
  end
  f:close()
end

-- 5 and 6. Many clients on one server (mmnet only: LuaSocket's select cannot hold them).
local function fanout(n, rounds)
  return pair(string.format("%s %smmnet_fanout.lua server %d %d", lua, dir, n, rounds),
    function(port) return string.format("%s %smmnet_fanout.lua clients %s %d %d", lua, dir, port, n, rounds) end,
    600)
end
do
  local res, why = fanout(W.many, W.many_rounds)
  note("many", res, why)
  progress("5 %d clients: %s", W.many, res and string.format("connected in %.2f s, broadcast to all in %.1f ms, %.1f KiB/conn",
    res.connect_s, res.bcast_ms_max, res.rss_kib_per_conn) or why)
  res, why = fanout(W.fan, W.fan_rounds)
  note("fan", res, why)
  progress("6 broadcast to %d clients: %s", W.fan, res and string.format("p50 %.1f ms, max %.1f ms",
    res.bcast_ms_p50, res.bcast_ms_max) or why)
end

-- The table.
local out = {}
local function line(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
local function fig(v, fmt) return v and string.format(fmt, v) or "failed" end
local function why_or(v, key, fmt) return v and string.format(fmt, v) or (R[key .. "_why"] or "failed") end
local function uname(flag)
  local p = io.popen("uname " .. flag) local s = p:read("l") p:close() return s
end
local function cpu()
  local f = io.open("/proc/cpuinfo") if not f then return "?" end
  local t = f:read("a") f:close()
  return (t:match("model name%s*:%s*([^\n]+)") or "?")
end
local function ncpu()
  local p = io.popen("nproc") local s = p:read("l") p:close() return s
end

line("mmnet benchmark (make bench%s), %s", quick and " BENCH_QUICK=1" or "", os.date("!%Y-%m-%d %H:%M UTC"))
line("machine: %s, %s cores, Linux %s; loopback; %.0f s", cpu(), ncpu(), uname("-r"), common.now() - started)
line("")
line("%-46s %-20s %s", "workload", "contender", "figure")
line("%s", string.rep("-", 94))
line("%-46s %-20s %s", "1 one-way {OpCode,Data,Seq}, best of " .. W.reps .. "x" .. W.small, "bare-Lua ceiling", fig(R.ceiling, "%.0f tables/s"))
for _, id in ipairs({"mmnet", "luasocket", "luv"}) do
  line("%-46s %-20s %s", "", contenders[id].name, why_or(R["small_" .. id], "small_" .. id, "%.0f msgs/s"))
end
local function rtt(key)
  local r = R[key]
  return r and string.format("p50 %.1f us, p99 %.1f us", r.rtt_p50_us, r.rtt_p99_us) or (R[key .. "_why"] or "failed")
end
line("%-46s %-20s %s", "2 ping-pong round trip, best of " .. W.reps .. "x" .. W.ping, "raw C (32 bytes)", rtt("ping_raw"))
for _, id in ipairs({"mmnet", "mmnet_nospin", "luasocket", "luv"}) do
  line("%-46s %-20s %s", "", contenders[id].name, rtt("ping_" .. id))
end
line("%-46s %-20s %s", "3 one-way 1 MiB payloads, best of " .. W.reps .. "x" .. W.bulk, "raw C (1 MiB writes)", why_or(R.bulk_raw, "bulk_raw", "%.0f MB/s"))
for _, id in ipairs({"mmnet", "luasocket", "luv"}) do
  line("%-46s %-20s %s", "", contenders[id].name, why_or(R["bulk_" .. id], "bulk_" .. id, "%.0f MB/s"))
end
line("%-46s %-20s %s", "4 encrypted (128-bit key): small tables", "mmnet", why_or(R.small_enc, "small_enc", "%.0f msgs/s"))
line("%-46s %-20s %s", "  encrypted: 1 MiB payloads", "mmnet", why_or(R.bulk_enc, "bulk_enc", "%.0f MB/s"))
line("%-46s %-20s %s", "  encrypted: ping-pong round trip", "mmnet",
  encrypted_available and rtt("ping_enc") or "n/a (encryption not available)")
local m = R.many
line("%-46s %-20s %s", string.format("5 %d clients on one server", W.many), "mmnet",
  m and string.format("all connected in %.2f s; broadcast in all %.1f ms (max of %d); %.1f KiB RSS/conn",
    m.connect_s, m.bcast_ms_max, W.many_rounds, m.rss_kib_per_conn) or (R.many_why or "failed"))
line("%-46s %-20s %s", "", "LuaSocket + cjson", "skipped (select(2) holds at most 1024 sockets)")
local f6 = R.fan
line("%-46s %-20s %s", string.format("6 broadcast to %d clients, %d rounds", W.fan, W.fan_rounds), "mmnet",
  f6 and string.format("last one has it after p50 %.1f ms, max %.1f ms; the call %.2f ms (p50)",
    f6.bcast_ms_p50, f6.bcast_ms_max, f6.bcast_call_ms_p50) or (R.fan_why or "failed"))
line("")
line("targets (ratios from this run)")
line("%s", string.rep("-", 94))
local passed, failed = 0, 0
local function target(label, value, fmt, ok, goal)
  local verdict
  if value == nil then verdict = "n/a" elseif ok == "quick" then verdict = "(quick)" elseif ok then verdict, passed = "PASS", passed + 1 else verdict, failed = "MISS", failed + 1 end
  line("%-52s %-14s %-16s %s", label, value and string.format(fmt, value) or "n/a", goal, verdict)
end
local function ratio(a, b) return a and b and a / b end
local r
r = ratio(R.small_mmnet, R.small_luasocket) target("1 small one-way: mmnet / LuaSocket + cjson", r, "%.2fx", r and r >= 3, ">= 3x")
r = ratio(R.small_mmnet, R.small_luv) target("1 small one-way: mmnet / luv + cjson", r, "%.2fx", r and r >= 3, ">= 3x")
r = ratio(R.small_mmnet, R.ceiling) target("1 small one-way: mmnet / bare-Lua ceiling", r and r * 100, "%.0f%%", r and r >= 0.6, ">= 60%")
r = R.ping_mmnet and R.ping_raw and R.ping_mmnet.rtt_p50_us / R.ping_raw.rtt_p50_us
target("2 ping-pong p50: mmnet / raw C", r, "%.2fx", r and r <= 1.5, "<= 1.5x")
r = R.ping_mmnet and R.ping_luasocket and R.ping_mmnet.rtt_p50_us / R.ping_luasocket.rtt_p50_us
target("2 ping-pong p50: mmnet / LuaSocket + cjson", r, "%.2fx", r and r < 1, "< 1x")
r = ratio(R.bulk_mmnet, R.bulk_raw) target("3 1 MiB one-way: mmnet / raw TCP", r and r * 100, "%.0f%%", r and r >= 0.6, ">= 60%")
r = ratio(R.small_enc, R.small_mmnet) target("4 encrypted / plaintext, small tables", r and r * 100, "%.0f%%", r and r >= 0.5, ">= 50%")
r = ratio(R.bulk_enc, R.bulk_mmnet) target("4 encrypted / plaintext, 1 MiB", r and r * 100, "%.0f%%", r and r >= 0.5, ">= 50%")
target(string.format("5 %d connections held and served by one server", W.many), m and m.connections,
  "%d held", quick and "quick" or (m and m.connections == W.many), quick and ">= 10000 (quick)" or ">= 10000")
target(string.format("6 broadcast to %d clients, slowest round", W.fan), f6 and f6.bcast_ms_max, "%.1f ms",
  quick and "quick" or (f6 and f6.bcast_ms_max <= 50), quick and "<= 50 ms @1000" or "<= 50 ms")
line("")
line("%d targets met, %d missed%s", passed, failed, quick and " (quick mode: sizes too small to judge)" or "")

local text = table.concat(out, "\n") .. "\n"
local rf = assert(io.open(outdir .. "/results.txt", "w"))
rf:write(text)
rf:close()
io.stdout:write(text)
