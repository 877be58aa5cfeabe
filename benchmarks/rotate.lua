-- wrk script: POST pre-generated, correctly signed Twilio webhooks in turn.
-- The request file holds one request per line: path <TAB> signature <TAB> body.
-- Counts non-2xx answers and answers holding the app's apology (a swallowed
-- internal failure is a 200, but not a success), and prints one JSON line.
--
-- usage: wrk -s rotate.lua URL -- REQUEST_FILE [APOLOGY_MARKER]

local requests = {}
local counter = 0
local non2xx = 0
local apologies = 0
local marker = nil
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local path = args[1]
  marker = args[2]
  for line in io.lines(path) do
    local p, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if p then
      table.insert(requests, wrk.format("POST", p, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = sig,
      }, body))
    end
  end
  -- threads start at different offsets so they do not send the same call
  counter = (id or 0) * 7919
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif marker and body and string.find(body, marker, 1, true) then
    apologies = apologies + 1
  end
end

function done(summary, latency, requests_)
  local bad, sorry = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    sorry = sorry + (t:get("apologies") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "apologies": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, bad, sorry,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
