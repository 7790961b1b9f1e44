-- Mark a batch finished and complete the campaign when it was the last one and no chunk of it still awaits
-- its status reports (the settle job completes it then, calling this again for a finished batch).
-- A batch is not finished while its journal holds a chunk in flight: its run saw every chunk end, so one
-- in flight here is a record Redis lost (a failover to a replica that had not received it), and the run
-- goes through the batch again, reconciling that chunk with the provider.
-- KEYS[1] batches_done set, KEYS[2] campaign hash, KEYS[3] counters hash, KEYS[4] awaiting sorted set,
-- KEYS[5] the batch's journal hash
-- ARGV[1] batch number, ARGV[2] skipped count, ARGV[3] now (unix seconds)
-- Returns the campaign state after the call, or 'in_flight' (nothing changed).
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  for _, entry in ipairs(redis.call('HVALS', KEYS[5])) do
    if cjson.decode(entry)['state'] == 'in_flight' then
      return 'in_flight'
    end
  end
end
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  local skipped = tonumber(ARGV[2])
  if skipped > 0 then
    redis.call('HINCRBY', KEYS[3], 'skipped', skipped)
  end
end
local state = redis.call('HGET', KEYS[2], 'state')
local total = tonumber(redis.call('HGET', KEYS[2], 'batches') or '0')
local settled = redis.call('ZCARD', KEYS[4]) == 0
if state == 'running' and settled and redis.call('SCARD', KEYS[1]) >= total then
  redis.call('HSET', KEYS[2], 'state', 'completed', 'updated_at', ARGV[3], 'finished_at', ARGV[3])
  return 'completed'
end
return state
