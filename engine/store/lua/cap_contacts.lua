-- Decide once which numbers of a batch are at a contact-frequency limit, and count a contact for the rest.
-- KEYS[1] the batch's decision: one '0' or '1' (at a limit) per number, '' when none is; kept, so a batch
-- that runs again (resumed, taken over) sends to exactly the same numbers and counts nobody twice.
-- ARGV[1..5] as contact_counts.lua; ARGV[6] seconds a day's hashes outlive the day (the longest window).
-- Returns the decision (the earlier one when the batch was decided before).
local decided = redis.call('GET', KEYS[1])
if decided then
  return decided
end
--#include contact_counts
local minute = now - today * 1440
local stamp = string.char(math.floor(minute / 256), minute % 256)
local decision, any, touched = {}, false, {}
for i = 1, #channels do
  local list = limits[string.sub(channels, i, i)]
  local flag = '0'
  if list then
    if at_limit(i, list) then
      flag, any = '1', true
    else
      local m = number(i)
      local bucket = m % today_buckets
      local key, field = prefix .. today .. ':' .. bucket, (m - bucket) / today_buckets
      redis.call('HSET', key, field, (redis.call('HGET', key, field) or '') .. stamp)
      touched[key] = true
    end
  end
  decision[i] = flag
end
local expires = (today + 1) * 86400 + tonumber(ARGV[6])
if next(touched) then
  touched[prefix .. today .. ':b'] = true
  redis.call('SET', prefix .. today .. ':b', today_buckets, 'NX')
end
for key in pairs(touched) do
  redis.call('EXPIREAT', key, expires)
end
decided = any and table.concat(decision) or ''
redis.call('SET', KEYS[1], decided)
return decided
