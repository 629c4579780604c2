-- Inclusion proofs of random entries in the tree of SIZE entries, as an auditor asks for them.
--
--   wrk -s inclusion.lua http://host/api/letters/SLUG/log/inclusion -- SIZE

local size

function init(args)
  size = tonumber(args[1])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

request = function()
  local index = math.random(0, size - 1)
  return wrk.format("GET", wrk.path .. "?index=" .. index .. "&size=" .. size)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
