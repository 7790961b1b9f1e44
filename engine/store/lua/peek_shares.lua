-- The campaigns sending on a channel now and each one's share of its rate, as the admission computes it
-- (rate.lua); changes nothing (``koodispatch status``: a campaign's place in line).
-- KEYS[1] the campaigns asking for the channel (keys.rate_active), KEYS[2] keys.TENANTS
-- ARGV[1] the channel, ARGV[2] its effective rate, ARGV[3] the minimum share of a lower class,
-- ARGV[4] seconds a campaign counts as asking after its last request, ARGV[5], ARGV[6] lowest and highest rate
-- Returns a flat list: id, rank, weight, own cap ('' for none), numbers per second; by rank.
--#include clock
--#include shares
local now = seconds_now()
local members = asking(KEYS[1], now - tonumber(ARGV[4]), KEYS[2], ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6]))
local alloc = shares(tonumber(ARGV[2]), members, tonumber(ARGV[3]))
table.sort(members, function(a, b) return a.rank < b.rank end)
local out = {}
for _, m in ipairs(members) do
  out[#out + 1] = m.id
  out[#out + 1] = tostring(m.rank)
  out[#out + 1] = tostring(m.weight)
  out[#out + 1] = m.cap and tostring(m.cap) or ''
  out[#out + 1] = tostring(alloc[m.id] or 0)
end
return out
