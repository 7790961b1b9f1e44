-- Journal a chunk in_flight, fenced by the batch lease: a worker that lost its lease (stalled past the TTL
-- while a successor took the batch over) can no longer start a call, so two holders never send one chunk.
-- A chunk already final (done/failed) is never reopened.
-- KEYS[1] lease key, KEYS[2] journal hash; ARGV[1] holder token, ARGV[2] chunk field, ARGV[3] record.
-- Returns 1 if journaled, 0 if the lease is not ours, -1 if the chunk is already final.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local previous = redis.call('HGET', KEYS[2], ARGV[2])
if previous and cjson.decode(previous)['state'] ~= 'in_flight' then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
