-- Put the jobs whose worker stopped renewing them (it died, or stalled past the visibility) back at the
-- front of arq's queue, so another worker runs them within a visibility of the death (hold_jobs.lua).
-- A job whose job key is gone had finished as its worker died: it is dropped, not run again.
--
-- KEYS[1] arq queue, KEYS[2] running set; ARGV[1] in-progress key prefix, ARGV[2] job key prefix,
-- ARGV[3] how far ahead of now the queue score is set (ms, so the job runs before batches queued since),
-- ARGV[4] most jobs taken per call (the caller calls again while it gets that many).
-- Returns {jobs taken, ids put back...}: fewer taken than the most means none is left.
--#include clock
local now_ms = math.floor(seconds_now() * 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[4]))
local requeued = {}
for _, id in ipairs(lapsed) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('DEL', ARGV[1] .. id)
  if redis.call('EXISTS', ARGV[2] .. id) == 1 then
    redis.call('ZADD', KEYS[1], now_ms - tonumber(ARGV[3]), id)
    requeued[#requeued + 1] = id
  end
end
return {#lapsed, unpack(requeued)}
