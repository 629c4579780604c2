-- Plain GETs of one path (wrk's default request), reporting as the other scripts do.
--
--   wrk -s get.lua URL -- [HEADER_FILE]
--
-- HEADER_FILE, if given, holds "Name: value" lines sent with every request (a session cookie for
-- an organiser's page).

function init(args)
  if args[1] then
    for l in io.lines(args[1]) do
      local name, value = l:match("^([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
