-- Confirmation POSTs, each with a fresh token from a file of pending signatures made by run.py.
--
--   wrk -s verify.lua URL -- SLUG CSRF_FILE TOKEN_FILE
--
-- Thread n takes every line i of TOKEN_FILE with i % threads == n, so no token is used twice.
-- Once a thread has used all of its tokens it asks for a missing page: errors, never a silently
-- cheaper second verification.

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local tokens = {}
local pos = 0
local slug, cookie, token, origin

function init(args)
  slug = args[1]
  local nthreads = tonumber(args[4])
  local line = 0
  for l in io.lines(args[2]) do
    if line == id then cookie, token = l:match("^(%S+) (%S+)$") end
    line = line + 1
  end
  line = 0
  for l in io.lines(args[3]) do
    if line % nthreads == id then tokens[#tokens + 1] = l end
    line = line + 1
  end
  origin = "http://" .. wrk.host .. ":" .. wrk.port
end

function request()
  pos = pos + 1
  local t = tokens[pos]
  local path = t and ("/letters/" .. slug .. "/confirm/" .. t .. "/") or "/bench/tokens-used-up/"
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. cookie,
    ["Origin"] = origin,
    ["Connection"] = wrk.headers["Connection"],  -- "close" when run.py asks for it (-H)
  }, "csrfmiddlewaretoken=" .. token)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
