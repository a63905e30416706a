-- The static request at a fixed rate (an open-loop schedule, as far as wrk allows), for "p99
-- at half of peak": each thread hands out send slots every 1/rate seconds and delay() holds a
-- connection until its slot; a connection that is late sends at once. Latency is counted from
-- the send, so unlike wrk2 it does not correct coordinated omission: with enough connections
-- (the bench uses 32) and a server at half load, a slot is rarely missed (the bench reports
-- the rate reached, so a missed schedule shows).
--   WRK_RATE_PER_THREAD  requests per second from each wrk thread
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval = 1000 / tonumber(os.getenv("WRK_RATE_PER_THREAD"))
local next_slot = nil

function delay()
  local now = now_ms()
  if next_slot == nil or next_slot < now - 1000 then
    next_slot = now -- start, or more than a second behind: do not burst to catch up
  end
  local slot = next_slot
  next_slot = next_slot + interval
  local wait = slot - now
  return wait > 0 and math.floor(wait) or 0
end
