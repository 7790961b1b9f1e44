-- Freeze the batch indices that get the late fallback, once, and count them once.
-- KEYS[1] late string, KEYS[2] counters hash
-- ARGV[1] packed indices, ARGV[2] counter name (late:<channel>), ARGV[3] how many indices
-- Returns the frozen indices (the earlier ones when a previous run froze first).
if redis.call('SETNX', KEYS[1], ARGV[1]) == 1 then
  if tonumber(ARGV[3]) > 0 then
    redis.call('HINCRBY', KEYS[2], ARGV[2], tonumber(ARGV[3]))
  end
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
