-- The cross-campaign capability cache: number -> "<verdict><unix time>" in ARGV[3] hashes named
-- "<ARGV[2]><last four digits mod ARGV[3]>". A batch's 5,000 numbers travel as one string and the answer
-- comes back as one string, so the worker packs and parses two values per batch instead of 5,000 fields.
-- The shard keys are derived here, not passed as KEYS: like the rest of the engine, this needs one Redis
-- (not Redis Cluster). Numbers are the engine's normalised 11-digit numbers, exact as Lua numbers.
-- ARGV[1] operation: get | put
-- ARGV[2] key prefix of the shards, ARGV[3] number of shards
-- ARGV[4] numbers joined by ","
-- get: ARGV[5] oldest unix time still trusted. Returns one character per number: its verdict, or "."
--      when unknown or older than that.
-- put: ARGV[5] verdicts, one character per number, ARGV[6] unix time now. Returns how many were written.
local op, prefix, shards = ARGV[1], ARGV[2], tonumber(ARGV[3])
local numbers, positions = {}, {}  -- per shard: its numbers and their positions in ARGV[4]
for shard = 0, shards - 1 do
  numbers[shard], positions[shard] = {}, {}
end
local n = 0
for number in string.gmatch(ARGV[4], '%d+') do
  n = n + 1
  local shard = tonumber(number) % 10000 % shards
  local members = numbers[shard]
  local at = #members + 1
  members[at] = number
  positions[shard][at] = n
end

if op == 'get' then
  local oldest = tonumber(ARGV[5])
  local out = {}
  for shard = 0, shards - 1 do
    local members = numbers[shard]
    if #members > 0 then
      local where = positions[shard]
      local values = redis.call('HMGET', prefix .. shard, unpack(members))
      for k = 1, #members do
        local value = values[k]
        if value and tonumber(string.sub(value, 2)) >= oldest then
          out[where[k]] = string.sub(value, 1, 1)
        else
          out[where[k]] = '.'
        end
      end
    end
  end
  return table.concat(out)
elseif op == 'put' then
  local verdicts, now = ARGV[5], ARGV[6]
  local stamped = {}  -- verdict byte -> "<verdict><now>", built once per verdict
  for shard = 0, shards - 1 do
    local members = numbers[shard]
    if #members > 0 then
      local where = positions[shard]
      local fields = {}
      for k = 1, #members do
        local byte = string.byte(verdicts, where[k])
        local value = stamped[byte]
        if not value then
          value = string.char(byte) .. now
          stamped[byte] = value
        end
        fields[2 * k - 1] = members[k]
        fields[2 * k] = value
      end
      redis.call('HSET', prefix .. shard, unpack(fields))
    end
  end
  return n
end
return redis.error_reply('cap_cache.lua: unknown operation ' .. op)
