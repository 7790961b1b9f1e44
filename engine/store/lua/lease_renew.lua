-- Extend a batch lease only if we still hold it.
-- KEYS[1] lease key; ARGV[1] holder token, ARGV[2] ttl in ms. Returns 1 if renewed, 0 if lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
