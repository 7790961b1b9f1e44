-- The cross-campaign capability cache: number -> "<verdict><unix time>", in one hash per UTC day
-- ("<prefix><day number>") that expires once no verdict in it can be trusted any more, so the cache
-- holds at most a TTL's worth of numbers instead of every number ever checked.
-- A batch's numbers travel as one string and the answer comes back as one string: the worker packs and
-- parses two values per batch instead of one field per number. The day keys are derived here, not
-- passed as KEYS: like the rest of the engine, this needs one Redis (not Redis Cluster).
-- ARGV[1] operation: get | put
-- ARGV[2] key prefix, ARGV[3] numbers joined by ",", ARGV[4] unix time now, ARGV[5] TTL in seconds
-- get: returns one character per number: its verdict, or "." when unknown or older than the TTL.
-- put: ARGV[6] verdicts, one character per number. Returns how many were written.
local op, prefix = ARGV[1], ARGV[2]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local DAY, SLICE = 86400, 1000  -- SLICE: values per command, well below Lua's unpack limit

local numbers = {}
for number in string.gmatch(ARGV[3], '[^,]+') do
  numbers[#numbers + 1] = number
end

-- HMGET of `wanted` (a list of numbers) from `key`, a slice at a time
local function hmget(key, wanted)
  local values = {}
  for first = 1, #wanted, SLICE do
    local last = math.min(first + SLICE - 1, #wanted)
    local part = redis.call('HMGET', key, unpack(wanted, first, last))
    for k = 1, #part do
      values[first + k - 1] = part[k]
    end
  end
  return values
end

if op == 'get' then
  local oldest = now - ttl
  local out, missing, where = {}, numbers, {}
  for k = 1, #numbers do
    out[k], where[k] = '.', k
  end
  local day = math.floor(now / DAY)
  while #missing > 0 and (day + 1) * DAY > oldest do  -- newest day first; older days only for the rest
    local values = hmget(prefix .. day, missing)
    local still, still_where = {}, {}
    for k = 1, #missing do
      local value = values[k]
      if value and tonumber(string.sub(value, 2)) >= oldest then
        out[where[k]] = string.sub(value, 1, 1)
      else
        still[#still + 1], still_where[#still_where + 1] = missing[k], where[k]
      end
    end
    missing, where, day = still, still_where, day - 1
  end
  return table.concat(out)
elseif op == 'put' then
  local verdicts, day = ARGV[6], math.floor(now / DAY)
  local key = prefix .. day
  local stamped = {}  -- verdict byte -> "<verdict><now>", built once per verdict
  for first = 1, #numbers, SLICE do
    local fields = {}
    for k = first, math.min(first + SLICE - 1, #numbers) do
      local byte = string.byte(verdicts, k)
      local value = stamped[byte]
      if not value then
        value = string.char(byte) .. ARGV[4]
        stamped[byte] = value
      end
      fields[#fields + 1] = numbers[k]
      fields[#fields + 1] = value
    end
    redis.call('HSET', key, unpack(fields))
  end
  redis.call('EXPIREAT', key, math.ceil((day + 1) * DAY + ttl))
  return #numbers
end
return redis.error_reply('cap_cache.lua: unknown operation ' .. op)
