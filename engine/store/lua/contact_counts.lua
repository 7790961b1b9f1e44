-- Included by cap_contacts.lua and peek_contacts.lua: a number's contacts in the windows of its channel.
-- ARGV[1] prefix of the day hashes, ARGV[2] buckets for a day not yet written, ARGV[3] limits json
-- {code: [[count, minutes]]}, ARGV[4] the numbers, 11 digits each, concatenated, ARGV[5] one channel code
-- per number (a code without limits: not counted).
-- A day's bucket count is fixed by its first write (<prefix><day>:b), so a new setting starts the next UTC
-- day and never hides contacts already counted. A number m (its 11 digits less 13,000,000,000: every valid
-- mobile is at least that) lives in the hash <prefix><day>:<m mod buckets>, field m div buckets (a small
-- integer Redis packs in 2 bytes), whose value is its contacts that day, 2 bytes each: the minute of the day.
--#include clock
local prefix = ARGV[1]
local limits = cjson.decode(ARGV[3])
local numbers, channels = ARGV[4], ARGV[5]
local now = math.floor(seconds_now() / 60)  -- minutes since the epoch, the same on every host
local today = math.floor(now / 1440)
local longest = 0
for _, list in pairs(limits) do
  for _, limit in ipairs(list) do
    longest = math.max(longest, limit[2])
  end
end
local days = {}  -- {day, buckets} of the days a window reaches into that have contacts
for day = math.floor((now - longest) / 1440), today do
  local buckets = redis.call('GET', prefix .. day .. ':b')
  if buckets then
    days[#days + 1] = {day, tonumber(buckets)}
  end
end
local today_buckets = tonumber(ARGV[2])
if #days > 0 and days[#days][1] == today then
  today_buckets = days[#days][2]
end

-- Number i as the store counts it.
local function number(i)
  return tonumber(string.sub(numbers, 11 * i - 10, 11 * i)) - 13000000000
end

-- Whether number i is at a limit of its channel's ``list``.
local function at_limit(i, list)
  local m = number(i)
  local times = {}
  for _, held in ipairs(days) do
    local bucket = m % held[2]
    local packed = redis.call('HGET', prefix .. held[1] .. ':' .. bucket, (m - bucket) / held[2])
    if packed then
      for k = 1, #packed, 2 do
        times[#times + 1] = held[1] * 1440 + string.byte(packed, k) * 256 + string.byte(packed, k + 1)
      end
    end
  end
  for _, limit in ipairs(list) do
    local count = 0
    for _, t in ipairs(times) do
      if t > now - limit[2] then
        count = count + 1
      end
    end
    if count >= limit[1] then
      return true
    end
  end
  return false
end
