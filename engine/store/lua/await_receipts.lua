-- Journal a plain-SMS chunk whose answer was lost as awaiting its status reports, fenced by the batch lease
-- (see in_flight_fence.lua), and list it among the campaign's chunks to settle, due at ARGV[5].
-- KEYS[1] lease key, KEYS[2] journal hash, KEYS[3] awaiting sorted set (member -> due),
-- KEYS[4] awaiting indices hash (member -> packed batch indices), KEYS[5] counters hash
-- ARGV[1] holder token, ARGV[2] chunk field, ARGV[3] record, ARGV[4] member, ARGV[5] due (unix seconds),
-- ARGV[6] packed indices, ARGV[7] numbers in the chunk
-- Returns 1 if journaled, 0 if the lease is not ours, -1 if the chunk is already final.
--#include in_flight_fence
local refused = in_flight_refused(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
if refused == 'lease' then
  return 0
elseif refused then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[6])
  redis.call('HINCRBY', KEYS[5], 'settling', tonumber(ARGV[7]))
end
return 1
