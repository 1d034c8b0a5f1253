-- pace.lua: optional pacing for get.lua and post.lua, loaded with dofile.
-- With BENCH_RATE set (requests per second, per wrk thread) it defines
-- wrk's delay(): each request gets the next slot of one timeline per
-- thread, and a thread that fell behind by more than 100 ms forgets the
-- backlog. wrk's timers count whole milliseconds, so a thread sends the
-- requests of each millisecond together. Without BENCH_RATE it does
-- nothing: the script's connections send as fast as answers come back.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
   local ffi = require("ffi")
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clk, bench_timespec *ts);
   ]]
   local ts = ffi.new("bench_timespec")
   local function now_ms()
      ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
   end
   local interval = 1000 / rate
   local next_at = nil
   function delay()
      local now = now_ms()
      if not next_at or now - next_at > 100 then next_at = now end
      next_at = next_at + interval
      local d = next_at - now
      if d < 0 then return 0 end
      return math.floor(d)
   end
end
