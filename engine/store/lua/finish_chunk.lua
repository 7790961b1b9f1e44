-- Record the confirmed outcome of one provider call, exactly once.
-- KEYS[1] journal hash, KEYS[2] counters hash, KEYS[3] failed-numbers hash, KEYS[4] timeline hash,
-- KEYS[5] (when the provider named a task) the task id -> chunk reference key that receipts are matched by
-- ARGV[1] journal field, ARGV[2] chunk record (json), ARGV[3] channel, ARGV[4] accepted count,
-- ARGV[5] timeline minute, ARGV[6] chunk reference, ARGV[7] seconds the task key lives,
-- ARGV[8..] pairs: number, failure json {"channel","reason"}
-- Returns 1 when recorded, 0 when the chunk was already final (a second recorder changes nothing).
if KEYS[5] then
  redis.call('SET', KEYS[5], ARGV[6], 'EX', ARGV[7])
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local state = cjson.decode(current)['state']
  if state == 'done' or state == 'failed' then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local accepted = tonumber(ARGV[4])
if accepted > 0 then
  redis.call('HINCRBY', KEYS[2], 'sent:' .. ARGV[3], accepted)
  redis.call('HINCRBY', KEYS[4], ARGV[5] .. ':' .. ARGV[3], accepted)
end
local failures = 0
for i = 8, #ARGV, 2 do
  local failure = cjson.decode(ARGV[i + 1])
  if redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) == 1 then
    failures = failures + 1
    redis.call('HINCRBY', KEYS[2], 'failed:' .. failure['reason'], 1)
    redis.call('HINCRBY', KEYS[2], 'failed_on:' .. failure['channel'], 1)
    redis.call('HINCRBY', KEYS[2], 'failed_reason:' .. failure['channel'] .. ':' .. failure['reason'], 1)
  end
end
if failures > 0 then
  redis.call('HINCRBY', KEYS[2], 'failed', failures)
end
return 1
