-- GET the paths of a file in turn (one path a line), with engage's auth
-- headers. Every request is formatted once, in init, so the client spends
-- the same little time per request whatever the server is.
--   BENCH_PATHS  the file of paths (absolute, e.g. /engage/credentials/ID)
--   BENCH_KEY    alle-subscription-key (optional)
--   BENCH_BASIC  base64 of user:password for Authorization: Basic (optional)
--   BENCH_RATE   optional: pace each wrk thread to this many requests/s
--                (pace.lua; the 90/10 rounds at a fixed load)
local reqs, n, i = {}, 0, 0

function init(args)
   local key, basic = os.getenv("BENCH_KEY"), os.getenv("BENCH_BASIC")
   if key and key ~= "" then wrk.headers["alle-subscription-key"] = key end
   if basic and basic ~= "" then wrk.headers["Authorization"] = "Basic " .. basic end
   local f = assert(io.open(assert(os.getenv("BENCH_PATHS"), "BENCH_PATHS"), "r"))
   for line in f:lines() do
      if line ~= "" then
         n = n + 1
         reqs[n] = wrk.format("GET", line)
      end
   end
   f:close()
   assert(n > 0, "no paths in BENCH_PATHS")
   -- each thread starts at its own place in the (shuffled) list
   i = (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % n
end

function request()
   i = i + 1
   if i > n then i = 1 end
   return reqs[i]
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "pace.lua")
