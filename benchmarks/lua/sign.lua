-- Form POSTs as a browser sends them after loading the letter page: the csrftoken cookie and the
-- form's csrfmiddlewaretoken, an Origin header, and a fresh address on every request.
--
--   wrk -s sign.lua URL -- PATH CSRF_FILE PREFIX
--
-- CSRF_FILE has one "cookie token" pair per wrk thread, each from its own GET of the letter page
-- (one browser session per thread). Used for /letters/<slug>/sign/ and for the INSERT floor.

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local counter = 0
local path, prefix, cookie, token, origin

function init(args)
  path, prefix = args[1], args[3]
  local line = 0
  for l in io.lines(args[2]) do
    if line == id then cookie, token = l:match("^(%S+) (%S+)$") end
    line = line + 1
  end
  origin = "http://" .. wrk.host .. ":" .. wrk.port
end

function request()
  counter = counter + 1
  local body = "csrfmiddlewaretoken=" .. token
    .. "&name=Bench+Signer+" .. counter
    .. "&email=" .. prefix .. "-" .. id .. "-" .. counter .. "%40bench.example.org"
    .. "&visibility=public&affiliation=Example+Corp&job_title=Engineer&team=&city=London&website="
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. cookie,
    ["Origin"] = origin,
    ["Connection"] = wrk.headers["Connection"],  -- "close" when run.py asks for it (-H)
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
