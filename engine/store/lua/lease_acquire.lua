-- Take a batch lease and register the run, in one step, so a lease can never exist without its run entry.
-- A run entry naming another holder while the lease is free means that holder died (or stalled past the
-- TTL) holding the batch: this run takes the batch over, and frees the in-flight slots the holder's calls
-- for it still hold (tokens "<holder token>#<serial>", engine/budget/limiter.py), which would otherwise
-- count against the cap for a call's whole lifetime, so a worker restarted alone could send nothing.
-- KEYS[1] lease key, KEYS[2] running-batches hash, KEYS[3..] the channels' in-flight sets;
-- ARGV[1] holder token, ARGV[2] ttl in ms, ARGV[3] field of the batch in the running hash ("<cid>:<batch>").
-- Returns {1, previous holder or "", slots freed} if taken, {0, "", 0} if held.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, '', 0}
end
local previous = redis.call('HGET', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
if not previous or previous == ARGV[1] then
  return {1, '', 0}
end
local tag = previous .. '#'
local freed = 0
for i = 3, #KEYS do
  local held = {}
  for _, token in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    if string.sub(token, 1, #tag) == tag then
      held[#held + 1] = token
    end
  end
  if #held > 0 then
    freed = freed + redis.call('ZREM', KEYS[i], unpack(held))
  end
end
return {1, previous, freed}
