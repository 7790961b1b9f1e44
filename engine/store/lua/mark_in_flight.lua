-- Journal a chunk in_flight, fenced by the batch lease (see in_flight_fence.lua). A call's first mark is
-- written by its admission (rate.lua admit); this script re-marks it, e.g. as settled after an answer.
-- KEYS[1] lease key, KEYS[2] journal hash; ARGV[1] holder token, ARGV[2] chunk field, ARGV[3] record.
-- Returns 1 if journaled, 0 if the lease is not ours, -1 if the chunk is already final.
--#include in_flight_fence
local refused = in_flight_refused(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
if refused == 'lease' then
  return 0
elseif refused then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
