-- wrk script for bench/bench_e2e.py: POST one pre-built body, over and over.
-- BODY_FILE: the body's path; BODY_GZIP: non-empty when the body is gzip.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BODY_GZIP") ~= "" and os.getenv("BODY_GZIP") ~= nil then
  wrk.headers["Content-Encoding"] = "gzip"
end
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout))
end
