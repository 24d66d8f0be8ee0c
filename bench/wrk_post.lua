-- wrk script for bench/bench_e2e.py: POST pre-built bodies, one after the other, forever.
-- BODY_FILE holds the bodies, each as "<length>\n<bytes>"; BODY_GZIP is non-empty
-- when they are gzip-compressed. Bodies are formatted once per thread, in init().
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if (os.getenv("BODY_GZIP") or "") ~= "" then
  wrk.headers["Content-Encoding"] = "gzip"
end

local requests = {}
local next_index = 0

init = function(args)
  local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local eol = string.find(data, "\n", pos, true)
    local n = tonumber(string.sub(data, pos, eol - 1))
    local body = string.sub(data, eol + 1, eol + n)
    requests[#requests + 1] = wrk.format(nil, nil, nil, body)
    pos = eol + n + 1
  end
end

request = function()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

done = function(summary, latency, reqs)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout))
end
