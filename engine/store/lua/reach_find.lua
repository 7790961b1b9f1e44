-- Whether a number was messaged: its 3-byte record in any of the day buckets given.
-- KEYS the number's bucket of each day of the window (strings of 3-byte records, appended)
-- ARGV[1] the record (the number without its bucket bits, 3 bytes little-endian)
-- Returns 1 when found, else 0.
for _, key in ipairs(KEYS) do
  local records = redis.call('GET', key) or ''
  local from = 1
  while true do
    local at = string.find(records, ARGV[1], from, true)
    if at == nil then
      break
    end
    if (at - 1) % 3 == 0 then
      return 1
    end
    from = at + 1
  end
end
return 0
