-- Record receipts of one batch, each (channel, number) once: the first receipt wins, later ones change nothing.
-- KEYS[1] the batch's delivery (or resolved) hash, KEYS[2] the campaign counters hash
-- ARGV triples: field, value, counters to increment by 1 when the field is new (space-separated)
-- Returns how many receipts were new.
local new = 0
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    new = new + 1
    for name in string.gmatch(ARGV[i + 2], '%S+') do
      redis.call('HINCRBY', KEYS[2], name, 1)
    end
  end
end
return new
