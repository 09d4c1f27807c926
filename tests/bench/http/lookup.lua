-- wrk script: POST /v1/lookup with a random phone number per request. Numbers are drawn from
-- [13800000000, 13800000000 + 2 * ENTRIES), so about half are listed (http_bench_server holds
-- entries for the first ENTRIES). The requests are made in init, not per request: wrk shares the
-- cores with the server, and building a body in Lua per request was wrk CPU the server lost.
local entries = tonumber(os.getenv("DUANKA_BENCH_ENTRIES") or "100000")
local first = 13800000000
local purposes = { "account-opening", "periodic-review", "transaction-review" }
-- Enough distinct requests that the server's cache of recent answers (if any) sees mostly new
-- numbers; a few MB of Lua strings per wrk thread.
local prepared_requests = 65536

wrk.method = "POST"
wrk.path = "/v1/lookup"
wrk.headers["Content-Type"] = "application/json"

local requests = {}
local next_request = 0

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  for i = 1, prepared_requests do
    local phone = first + math.random(0, 2 * entries - 1)
    local body = string.format('{"type":"phone","value":"%d","purpose":"%s"}', phone,
                               purposes[math.random(1, #purposes)])
    requests[i] = wrk.format(nil, nil, nil, body)
  end
end

request = function()
  next_request = next_request % prepared_requests + 1
  return requests[next_request]
end
