-- Release a batch lease and its run entry, each only if it is still ours (a successor may have replaced
-- them). KEYS[1] lease key, KEYS[2] running-batches hash; ARGV[1] holder token,
-- ARGV[2] field of the batch in the running hash.
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
