-- Claim an orphaned batch run for takeover: its run entry still names a holder but the lease is gone
-- (the holder died or stalled past the TTL). Only one sweeper wins the claim, so a batch is re-queued once.
-- KEYS[1] lease key, KEYS[2] running-batches hash; ARGV[1] the holder token the sweeper saw,
-- ARGV[2] field of the batch. Returns 1 if claimed, else 0.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
