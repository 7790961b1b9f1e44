-- The rate budget of one provider channel, shared by every worker: GCRA charged by message count,
-- with back-off on throttling. Every operation lives in this one script so the effective-rate
-- formula exists once and all workers compute it from the same state and the same clock (TIME).
--
-- KEYS[1]  the channel's hash (engine.keys.rate); fields:
--            rate          numbers per second (live setting)
--            burst         seconds of rate that may be spent at once (live setting)
--            tat           theoretical arrival time: when everything admitted so far is paid for
--            factor        rate multiplier set by the last throttle (1 = full rate)
--            throttled_at  time of the last throttle
-- ARGV[1]  operation: acquire | throttle | set | info
-- ARGV[2]  clock in seconds; "" = Redis TIME (an explicit clock is for tests only)
-- ARGV[3]  default rate, used while the hash has none
-- ARGV[4]  default burst seconds, used while the hash has none
-- ARGV[5]  throttle step: each throttle multiplies the factor by it
-- ARGV[6]  floor of the factor
-- ARGV[7]  recover seconds: the factor climbs linearly back to 1 over this time
-- ARGV[8]  hold seconds: throttles this soon after the last one answer calls sent before it and
--          do not compound the factor
-- ARGV[9]  acquire: n numbers | throttle: retry_after seconds or "" | set: new rate
-- ARGV[10] set: new burst seconds or ""
--
-- acquire returns "0" when admitted, else the seconds to wait before asking again (as a string,
-- since Lua numbers reach Redis as integers). The other operations return the state after them:
-- {rate, effective rate, factor, burst seconds, backlog seconds}.

local key = KEYS[1]
local op = ARGV[1]

local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
end

local state = redis.call('HMGET', key, 'rate', 'burst', 'tat', 'factor', 'throttled_at')
local rate = tonumber(state[1]) or tonumber(ARGV[3])
local burst = tonumber(state[2]) or tonumber(ARGV[4])
local tat = math.max(tonumber(state[3]) or now, now)
local base_factor = tonumber(state[4]) or 1
local throttled_at = tonumber(state[5])

local function fmt(x)
  return string.format('%.6f', x)
end

local factor = 1
if throttled_at and base_factor < 1 then
  local progress = math.min(math.max((now - throttled_at) / tonumber(ARGV[7]), 0), 1)
  factor = base_factor + (1 - base_factor) * progress
end

-- The backlog (tat - now) stands for numbers already admitted: when the effective rate changes,
-- keep the count of numbers and let them take the time the new rate gives them.
local function rescale(old_rate, new_rate)
  tat = now + (tat - now) * old_rate / new_rate
end

if op == 'acquire' then
  if tat - now > burst then
    return fmt(tat - now - burst)
  end
  redis.call('HSET', key, 'tat', fmt(tat + tonumber(ARGV[9]) / (rate * factor)))
  return '0'
elseif op == 'throttle' then
  if not throttled_at or now - throttled_at >= tonumber(ARGV[8]) then
    local lowered = math.max(tonumber(ARGV[6]), factor * tonumber(ARGV[5]))
    rescale(factor, lowered)
    factor = lowered
    redis.call('HSET', key, 'factor', fmt(factor), 'throttled_at', fmt(now))
  end
  if ARGV[9] ~= '' then
    -- admission happens once tat - now <= burst: nobody is admitted before now + retry_after
    tat = math.max(tat, now + tonumber(ARGV[9]) + burst)
  end
  redis.call('HSET', key, 'tat', fmt(tat))
elseif op == 'set' then
  local new_rate = tonumber(ARGV[9])
  rescale(rate, new_rate)
  rate = new_rate
  if ARGV[10] ~= '' then
    burst = tonumber(ARGV[10])
  end
  redis.call('HSET', key, 'rate', fmt(rate), 'burst', fmt(burst), 'tat', fmt(tat))
elseif op ~= 'info' then
  return redis.error_reply('rate.lua: unknown operation ' .. op)
end
return {fmt(rate), fmt(rate * factor), fmt(factor), fmt(burst), fmt(tat - now)}
