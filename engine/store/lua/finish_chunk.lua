-- Record the confirmed outcome of one provider call, exactly once.
-- KEYS[1] journal hash, KEYS[2] counters hash, KEYS[3] failed-numbers hash, KEYS[4] timeline hash,
-- KEYS[5] awaiting sorted set, KEYS[6] awaiting indices hash (a settled chunk leaves both),
-- KEYS[7..9] (when the provider named a task) the task id -> chunk reference key that receipts are matched
-- by, the task's pending receipts (list; those that came before the task was mapped), and the ready hash
-- (task id -> chunk reference) the receipts service drains: a task with pending receipts is listed there,
-- and the service records them through its validation (engine/receipts/early.py)
-- ARGV[1] journal field, ARGV[2] chunk record (json), ARGV[3] channel, ARGV[4] accepted count,
-- ARGV[5] unix second of the answer, ARGV[6] chunk reference, ARGV[7] seconds the task key lives,
-- ARGV[8] seconds per timeline bucket, ARGV[9] seconds the timeline lives after its last write,
-- ARGV[10] awaiting member of the chunk, ARGV[11] numbers in the chunk, ARGV[12] the task id ('' if none),
-- ARGV[13..] pairs: number, failure json {"channel","reason"}
-- Accepted numbers count in the timeline bucket of ARGV[5] (field "<bucket's first second>:<channel>")
-- and move the counters' first_sent_at / last_sent_at (unix seconds) out to it.
-- Returns 1 when recorded, 0 when the chunk was already final (a second recorder changes nothing).
if KEYS[7] then
  redis.call('SET', KEYS[7], ARGV[6], 'EX', ARGV[7])
  if redis.call('EXISTS', KEYS[8]) == 1 then
    redis.call('HSET', KEYS[9], ARGV[12], ARGV[6] .. ' ' .. ARGV[5])
  end
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local state = cjson.decode(current)['state']
  if state == 'done' or state == 'failed' then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= 'resolve' then
  redis.call('HINCRBY', KEYS[2], 'chunks:' .. cjson.decode(ARGV[2])['path'], 1)
end
if redis.call('ZREM', KEYS[5], ARGV[10]) == 1 then
  redis.call('HDEL', KEYS[6], ARGV[10])
  redis.call('HINCRBY', KEYS[2], 'settling', -tonumber(ARGV[11]))
end
local accepted = tonumber(ARGV[4])
if accepted > 0 then
  local second = tonumber(ARGV[5])
  redis.call('HINCRBY', KEYS[2], 'sent:' .. ARGV[3], accepted)
  redis.call('HINCRBY', KEYS[4], (second - second % tonumber(ARGV[8])) .. ':' .. ARGV[3], accepted)
  redis.call('EXPIRE', KEYS[4], ARGV[9])
  local sent_at = redis.call('HMGET', KEYS[2], 'first_sent_at', 'last_sent_at')
  local first, last = tonumber(sent_at[1] or second), tonumber(sent_at[2] or second)
  redis.call('HSET', KEYS[2], 'first_sent_at', math.min(first, second), 'last_sent_at', math.max(last, second))
end
local failures = 0
for i = 13, #ARGV, 2 do
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
