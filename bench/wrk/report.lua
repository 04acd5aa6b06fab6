-- wrk script of bench/load.py: sends the request described by the environment and, when the run
-- is over, prints one JSON line that load.py parses.
--   BENCH_METHOD (GET), BENCH_COOKIE, BENCH_BODY (form-encoded, for POST)
-- Responses other than 2xx are counted here: wrk itself counts only 4xx/5xx as errors, and a
-- redirect to the sign-in page must count as a failure too.

local method = os.getenv("BENCH_METHOD") or "GET"
local cookie = os.getenv("BENCH_COOKIE") or ""
local body = os.getenv("BENCH_BODY")

wrk.method = method
if cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "seconds": %.6f, "rps": %.2f, "p50_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests,
    summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50),
    latency:percentile(95),
    latency:percentile(99),
    latency.max,
    non2xx_total,
    e.connect + e.read + e.write + e.timeout
  ))
end
