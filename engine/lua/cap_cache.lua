-- The cross-campaign capability cache: number -> "<verdict><unix time>" in ARGV[3] hashes named
-- "<ARGV[2]><last four digits mod ARGV[3]>". A batch's 5,000 numbers travel as one string and the answer
-- comes back as one string, so the worker packs and parses two values per batch instead of 5,000 fields.
-- The shard keys are derived here, not passed as KEYS: like the rest of the engine, this needs one Redis
-- (not Redis Cluster).
-- ARGV[1] operation: get | put
-- ARGV[2] key prefix of the shards, ARGV[3] number of shards
-- ARGV[4] numbers joined by ","
-- get: ARGV[5] oldest unix time still trusted. Returns one character per number: its verdict, or "."
--      when unknown or older than that.
-- put: ARGV[5] verdicts, one character per number, ARGV[6] unix time now. Returns how many were written.
local op, prefix, shards = ARGV[1], ARGV[2], tonumber(ARGV[3])
local groups, order = {}, {}
local n = 0
for number in string.gmatch(ARGV[4], '[^,]+') do
  n = n + 1
  local shard = prefix .. (tonumber(string.sub(number, -4)) % shards)
  local group = groups[shard]
  if not group then
    group = {numbers = {}, positions = {}}
    groups[shard] = group
    order[#order + 1] = shard
  end
  group.numbers[#group.numbers + 1] = number
  group.positions[#group.positions + 1] = n
end

if op == 'get' then
  local oldest = tonumber(ARGV[5])
  local out = {}
  for _, shard in ipairs(order) do
    local group = groups[shard]
    local values = redis.call('HMGET', shard, unpack(group.numbers))
    for k, value in ipairs(values) do
      local verdict = '.'
      if value and tonumber(string.sub(value, 2)) >= oldest then
        verdict = string.sub(value, 1, 1)
      end
      out[group.positions[k]] = verdict
    end
  end
  return table.concat(out)
elseif op == 'put' then
  local verdicts, now = ARGV[5], ARGV[6]
  for _, shard in ipairs(order) do
    local group = groups[shard]
    local fields = {}
    for k, number in ipairs(group.numbers) do
      local at = group.positions[k]
      fields[#fields + 1] = number
      fields[#fields + 1] = string.sub(verdicts, at, at) .. now
    end
    redis.call('HSET', shard, unpack(fields))
  end
  return n
end
return redis.error_reply('cap_cache.lua: unknown operation ' .. op)
