-- Claim an orphaned batch run for takeover: its run entry still names a holder but the lease is gone
-- (the holder died or stalled past the TTL). Only one sweeper wins the claim, so a batch is re-queued once.
-- The winner also frees the in-flight slots the holder's calls for this batch still hold (tokens
-- "<holder token>#<serial>", engine/ratelimit.py): a dead worker's slots would otherwise count against
-- the cap for a call's whole lifetime, and a worker restarted alone could send nothing until then.
-- KEYS[1] lease key, KEYS[2] running-batches hash, KEYS[3..] the channels' in-flight sets;
-- ARGV[1] the holder token the sweeper saw, ARGV[2] field of the batch.
-- Returns {1, slots freed} if claimed, else {0, 0}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0}
end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then
  return {0, 0}
end
redis.call('HDEL', KEYS[2], ARGV[2])
local tag = ARGV[1] .. '#'
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
return {1, freed}
