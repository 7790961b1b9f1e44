-- Freeze a batch's capability verdicts once and count them once.
-- KEYS[1] verdicts string, KEYS[2] counters hash
-- ARGV[1] verdict bytes, ARGV[2] capable, ARGV[3] not capable, ARGV[4] invalid
-- Returns the frozen verdicts (the earlier ones when another worker froze first).
if redis.call('SETNX', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'capable', tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[2], 'not_capable', tonumber(ARGV[3]))
  redis.call('HINCRBY', KEYS[2], 'provider_invalid', tonumber(ARGV[4]))
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
