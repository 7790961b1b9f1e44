-- Receipts of provider tasks not mapped to a chunk yet: kept with each task until its chunk is journaled
-- (finish_chunk.lua then lists the task as ready for the receipts service), unless the map appeared
-- meanwhile. Several tasks in one call.
-- KEYS[2i-1] task i's id -> chunk reference key, KEYS[2i] task i's pending receipts (list)
-- ARGV[1] seconds a new list lives, ARGV[2] entries a list holds at most,
-- then per task: how many entries follow, the entries (json, engine/receipts/early.py)
-- Returns per task the chunk reference when the task is mapped now (nothing kept: record them), else how
-- many of its entries were dropped because its list was full.
local ttl, cap = ARGV[1], tonumber(ARGV[2])
local out, at = {}, 3
for i = 1, #KEYS, 2 do
  local count = tonumber(ARGV[at])
  local ref = redis.call('GET', KEYS[i])
  if ref then
    out[#out + 1] = ref
  else
    local held = redis.call('LLEN', KEYS[i + 1])
    local room = math.max(0, math.min(count, cap - held))
    for j = at + 1, at + room do
      redis.call('RPUSH', KEYS[i + 1], ARGV[j])
    end
    if held == 0 and room > 0 then
      redis.call('EXPIRE', KEYS[i + 1], ttl)  -- from the first receipt kept: a foreign task's list goes
    end
    out[#out + 1] = count - room
  end
  at = at + count + 1
end
return out
