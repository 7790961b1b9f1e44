-- Receipts of a provider task not mapped to a chunk yet: kept with the task until its chunk is journaled
-- (finish_chunk.lua records them when it maps the task), unless the map appeared meanwhile.
-- KEYS[1] the task id -> chunk reference key, KEYS[2] the task's pending receipts list
-- ARGV[1] seconds the list lives, ARGV[2..] entries (json [kind, field, value, counters])
-- Returns the chunk reference when the task is mapped now (nothing kept: record them), else nil.
local ref = redis.call('GET', KEYS[1])
if ref then
  return ref
end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return nil
