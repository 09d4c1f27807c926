-- wrk script: POST /v1/lookup with a random phone number per request. Numbers are drawn from
-- [13800000000, 13800000000 + 2 * ENTRIES), so about half are listed (http_bench_server holds
-- entries for the first ENTRIES).
local entries = tonumber(os.getenv("DUANKA_BENCH_ENTRIES") or "100000")
local first = 13800000000
local purposes = { "account-opening", "periodic-review", "transaction-review" }

wrk.method = "POST"
wrk.path = "/v1/lookup"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
end

request = function()
  local phone = first + math.random(0, 2 * entries - 1)
  local body = string.format('{"type":"phone","value":"%d","purpose":"%s"}', phone,
                             purposes[math.random(1, #purposes)])
  return wrk.format(nil, nil, nil, body)
end
