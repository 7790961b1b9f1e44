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
-- KEYS[2]  admit only: the channel's in-flight set (engine.keys.in_flight), as in in_flight.lua
-- ARGV[1]  operation: acquire | admit | throttle | set | info
-- ARGV[2]  clock in seconds; "" = Redis TIME (an explicit clock is for tests only)
-- ARGV[3]  default rate, used while the hash has none
-- ARGV[4]  default burst seconds, used while the hash has none
-- ARGV[5]  throttle step: each throttle multiplies the factor by it
-- ARGV[6]  floor of the factor
-- ARGV[7]  recover seconds: the factor climbs linearly back to 1 over this time
-- ARGV[8]  hold seconds: throttles this soon after the last one answer calls sent before it and
--          do not compound the factor
-- ARGV[9]  acquire, admit: n numbers | throttle: retry_after seconds or "" | set: new rate
-- ARGV[10] set: new burst seconds or "" | admit: the call's token
-- ARGV[11] admit: most tokens allowed in flight at once
-- ARGV[12] admit: lease seconds of the token
-- KEYS[3], KEYS[4]  admit, optional: the batch lease and its journal hash; with them the admission also
--          journals the call in flight (what mark_in_flight.lua does), in the same run
-- ARGV[13] admit with KEYS[4]: the lease holder's token | ARGV[14] chunk field | ARGV[15] in-flight record
--          ("" each without KEYS[4])
-- ARGV[16..] admit: tokens of calls that ended since this process's last admission, freed first
--
-- acquire returns "0" when admitted, else the seconds to wait before asking again (as a string,
-- since Lua numbers reach Redis as integers). admit takes a slot of the in-flight cap and charges the
-- budget in one step, or does neither: it returns {"ok", "0"}, {"slot", "0"} while the cap is full, or
-- {"budget", seconds to wait}; one round trip per call instead of one for the slot and one for the
-- budget, and no slot is held while the budget makes the call wait. With the journal keys it admits
-- nothing and returns {"lease", "0"} when the lease is not the caller's, {"final", "0"} when the chunk
-- is already done or failed (in_flight_fence.lua); an admitted call is journaled in flight before the
-- reply. The other operations return the state after them: {rate, effective rate, factor, burst
-- seconds, backlog seconds}.

--#include in_flight_fence

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

-- Charge n numbers if the backlog is within the burst: "0", else the seconds to wait.
local function charge(n)
  if tat - now > burst then
    return fmt(tat - now - burst)
  end
  redis.call('HSET', key, 'tat', fmt(tat + n / (rate * factor)))
  return '0'
end

if op == 'acquire' then
  return charge(tonumber(ARGV[9]))
elseif op == 'admit' then
  local slots = KEYS[2]
  if #ARGV > 15 then
    redis.call('ZREM', slots, unpack(ARGV, 16))
  end
  local journal = KEYS[4]
  if journal then
    local refused = in_flight_refused(KEYS[3], ARGV[13], journal, ARGV[14])
    if refused then
      return {refused, '0'}
    end
  end
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= tonumber(ARGV[11]) then
    return {'slot', '0'}
  end
  local wait = charge(tonumber(ARGV[9]))
  if wait ~= '0' then
    return {'budget', wait}
  end
  redis.call('ZADD', slots, fmt(now + tonumber(ARGV[12])), ARGV[10])
  if journal then
    redis.call('HSET', journal, ARGV[14], ARGV[15])
  end
  return {'ok', '0'}
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
