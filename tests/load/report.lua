-- wrk script: POST a JSON body read from a file, with extra headers, and print one parseable
-- RESULT line with throughput, latency percentiles (ms, including p99.9) and error counts.
-- Usage: wrk ... -s report.lua URL -- BODY_FILE ['Header: value' ...]
-- With FRESH_LAST_MESSAGE=1 in the environment, every call's last message starts with a new
-- number (the next turn of a conversation: the history is resent, the last message is new).
local req
local fresh, head, tail, hdrs
local n = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  local headers = { ["Content-Type"] = "application/json" }
  for i = 2, #args do
    local k, v = args[i]:match("^([^:]+):%s*(.*)$")
    if k then headers[k] = v end
  end
  req = wrk.format("POST", nil, headers, body)
  fresh = os.getenv("FRESH_LAST_MESSAGE") == "1"
  if fresh then
    local pos
    for p in body:gmatch('()"content": "') do pos = p end
    assert(pos, "FRESH_LAST_MESSAGE needs a body with a message")
    local cut = pos + #'"content": "'
    head, tail, hdrs = body:sub(1, cut - 1), body:sub(cut), headers
  end
end

function request()
  if not fresh then
    return req
  end
  n = n + 1
  return wrk.format("POST", nil, hdrs, head .. "Ref " .. n .. "-" .. math.random(1000000000) .. ". " .. tail)
end

function done(summary, latency, _)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50=%.3f p90=%.3f p99=%.3f p999=%.3f non2xx=%d sockerr=%d requests=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, summary.requests))
end
