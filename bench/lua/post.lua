-- POST {base}/credentials with {"userId":"bench-N","accessProfile":"staff"}
-- and engage's auth headers; N is unique per request in the run (each
-- thread counts from its own billion). Like get.lua, every request is
-- formatted once, in init (BENCH_POOL of them per thread, default 200000,
-- then they repeat: a user then gets a second credential), so the client
-- spends the same little time per request whatever the server is.
--   BENCH_PATH   the path to post to (e.g. /engage/credentials)
--   BENCH_KEY    alle-subscription-key
--   BENCH_BASIC  base64 of user:password for Authorization: Basic
--   BENCH_RATE   optional: pace each wrk thread to this many POSTs/s
--                (pace.lua; the 90/10 mix's writes)
--   BENCH_RUN    optional: a run tag, so user ids differ between runs
--   BENCH_POOL   optional: requests formatted per thread (default 200000)
--   BENCH_EXTRA  optional: more members for each body, e.g.
--                ',"validTo":"2000-01-01T00:00:00Z"', which engage answers
--                400 after auth and validation, with nothing stored (C13)
local threads = 0
local reqs, n, i = {}, 0, 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   local key, basic = os.getenv("BENCH_KEY"), os.getenv("BENCH_BASIC")
   if key and key ~= "" then wrk.headers["alle-subscription-key"] = key end
   if basic and basic ~= "" then wrk.headers["Authorization"] = "Basic " .. basic end
   wrk.headers["Content-Type"] = "application/json"
   local path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH")
   local prefix = "bench-" .. (os.getenv("BENCH_RUN") or "0") .. "-"
   local base = (tid or 0) * 1000000000
   local extra = os.getenv("BENCH_EXTRA") or ""
   n = tonumber(os.getenv("BENCH_POOL") or "") or 200000
   for k = 1, n do
      reqs[k] = wrk.format("POST", path, nil,
         '{"userId":"' .. prefix .. (base + k) .. '","accessProfile":"staff"' .. extra .. '}')
   end
end

function request()
   i = i + 1
   if i > n then i = 1 end
   return reqs[i]
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "pace.lua")
