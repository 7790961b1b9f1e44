-- Take a batch lease and register the run, in one step, so a lease can never exist without its run entry.
-- The run entry outlives the lease only when the holder died (or stalled past the TTL): that is what the
-- sweeper looks for (engine/sweeper.py).
-- KEYS[1] lease key, KEYS[2] running-batches hash; ARGV[1] holder token, ARGV[2] ttl in ms,
-- ARGV[3] field of the batch in the running hash ("<cid>:<batch>"). Returns 1 if taken, 0 if held.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return 1
