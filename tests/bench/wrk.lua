-- wrk.lua - the request of one HTTP benchmark (tests/bench/run), and its
-- figures as one JSON line at the end.
--
-- Environment:
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    a file whose content is the request body (sent as JSON)
--   BENCH_COOKIE  the value of the session cookie, when signed in
-- done() prints "BENCH_JSON {...}": requests, duration_us, bytes, errors
-- (connect, read, write, status = answers other than 2xx/3xx, timeout)
-- and latency_us (p50, p90, p99, max, mean).

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  local f = assert(io.open(body, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

local cookie = os.getenv("BENCH_COOKIE")
if cookie ~= nil and cookie ~= "" then
  wrk.headers["Cookie"] = "session=" .. cookie
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
