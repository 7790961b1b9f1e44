-- Record the confirmed outcome of one provider call, exactly once.
-- KEYS[1] journal hash, KEYS[2] counters hash, KEYS[3] failed-numbers hash, KEYS[4] timeline hash,
-- KEYS[5] awaiting sorted set, KEYS[6] awaiting indices hash (a settled chunk leaves both),
-- KEYS[7..10] (when the provider named a task) the task id -> chunk reference key that receipts are matched
-- by, the task's pending receipts (list; those that came before the task was mapped), and the batch's
-- delivery and resolved hashes they are recorded into
-- ARGV[1] journal field, ARGV[2] chunk record (json), ARGV[3] channel, ARGV[4] accepted count,
-- ARGV[5] timeline minute, ARGV[6] chunk reference, ARGV[7] seconds the task key lives,
-- ARGV[8] awaiting member of the chunk, ARGV[9] numbers in the chunk,
-- ARGV[10..] pairs: number, failure json {"channel","reason"}
-- Returns 1 when recorded, 0 when the chunk was already final (a second recorder changes nothing).
if KEYS[7] then
  redis.call('SET', KEYS[7], ARGV[6], 'EX', ARGV[7])
  -- pending receipts: [kind, field, value, counters], recorded first-wins as record_receipts.lua does
  for _, raw in ipairs(redis.call('LRANGE', KEYS[8], 0, -1)) do
    local entry = cjson.decode(raw)
    local target = KEYS[9]
    if entry[1] == 'resolve' then
      target = KEYS[10]
    end
    if redis.call('HSETNX', target, entry[2], entry[3]) == 1 then
      for name in string.gmatch(entry[4], '%S+') do
        redis.call('HINCRBY', KEYS[2], name, 1)
      end
    end
  end
  redis.call('DEL', KEYS[8])
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
if redis.call('ZREM', KEYS[5], ARGV[8]) == 1 then
  redis.call('HDEL', KEYS[6], ARGV[8])
  redis.call('HINCRBY', KEYS[2], 'settling', -tonumber(ARGV[9]))
end
local accepted = tonumber(ARGV[4])
if accepted > 0 then
  redis.call('HINCRBY', KEYS[2], 'sent:' .. ARGV[3], accepted)
  redis.call('HINCRBY', KEYS[4], ARGV[5] .. ':' .. ARGV[3], accepted)
end
local failures = 0
for i = 10, #ARGV, 2 do
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
