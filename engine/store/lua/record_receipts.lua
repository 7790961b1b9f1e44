-- Record receipts of one batch and channel, each batch position once: the first receipt wins.
-- KEYS[1] the outcome string (one byte per position), KEYS[2] the campaign counters hash,
-- KEYS[3] the campaign's status table (status -> code), KEYS[4] the frozen batch hash
-- ARGV[1] channel, ARGV[2] counter of an ok receipt ('delivered' or 'resolved'),
-- then pairs: batch position, status ('' when delivered / resolved)
-- Returns how many receipts were new; -1 (nothing written) when the batch does not exist: never frozen,
-- or its detail purged. Keys made here expire with the batch (retention set when the campaign ended).
local ttl = redis.call('PTTL', KEYS[4])
if ttl == -2 then
  return -1
end
local channel, ok_counter = ARGV[1], ARGV[2]
local new = 0
for i = 3, #ARGV, 2 do
  local position = tonumber(ARGV[i])
  local seen = redis.call('GETRANGE', KEYS[1], position, position)
  if seen == '' or seen == '\0' then
    local status, code = ARGV[i + 1], 1
    if status == '' then
      redis.call('HINCRBY', KEYS[2], ok_counter .. ':' .. channel, 1)
    else
      code = tonumber(redis.call('HGET', KEYS[3], status) or '0')
      if code == 0 then
        code = math.min(redis.call('HLEN', KEYS[3]) + 2, 255)  -- 255: any status past the 253rd
        if code < 255 then
          redis.call('HSET', KEYS[3], status, code)
        end
      end
      redis.call('HINCRBY', KEYS[2], 'undelivered:' .. channel, 1)
      redis.call('HINCRBY', KEYS[2], 'undelivered_status:' .. channel .. ':' .. status, 1)
    end
    redis.call('SETRANGE', KEYS[1], position, string.char(code))
    new = new + 1
  end
end
if ttl > 0 and new > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return new
