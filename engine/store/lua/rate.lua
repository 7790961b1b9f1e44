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
-- KEYS[3]  admit only: each campaign's own bucket on the channel (engine.keys.rate_buckets)
-- KEYS[4]  admit only: the campaigns asking for the channel, by when they last asked (keys.rate_active)
-- KEYS[5]  admit only: every campaign's class, weight and caps (engine.keys.TENANTS, budget/tenants.py)
-- ARGV[1]  operation: acquire | admit | throttle | set | info
-- ARGV[2]  clock in seconds; "" = Redis TIME (an explicit clock is for tests only)
-- ARGV[3]  default rate, used while the hash has none
-- ARGV[4]  default burst seconds, used while the hash has none
-- ARGV[5], ARGV[6]  lowest and highest rate; ARGV[7], ARGV[8]  lowest and highest burst seconds
--          (engine/runtime/ranges.py): no value outside them is stored or trusted
-- ARGV[9]  throttle step: each throttle multiplies the factor by it
-- ARGV[10] floor of the factor
-- ARGV[11] recover seconds: the factor climbs linearly back to 1 over this time
-- ARGV[12] hold seconds: throttles this soon after the last one answer calls sent before it and
--          do not compound the factor
-- ARGV[13] acquire, admit: n numbers | throttle: retry_after seconds or "" | set: new rate
-- ARGV[14] set: new burst seconds or "" | admit: the call's token
-- ARGV[15] admit: most tokens allowed in flight at once
-- ARGV[16] admit: lease seconds of the token
-- KEYS[6], KEYS[7]  admit, optional: the batch lease and its journal hash; with them the admission also
--          journals the call in flight (what mark_in_flight.lua does), in the same run
-- KEYS[8]  admit with KEYS[7]: the campaign's hash (engine.keys.campaign), whose state must be one of
--          ARGV[24]
-- ARGV[17] admit with KEYS[7]: the lease holder's token | ARGV[18] chunk field | ARGV[19] in-flight record
--          ("" each without KEYS[7])
-- ARGV[20] admit: the campaign the call is made for ("" = none: only the channel's budget applies)
-- ARGV[21] admit: the minimum share of a lower class | ARGV[22] seconds a campaign counts as asking
--          after its last request | ARGV[23] the channel's name (for the campaigns' caps)
-- ARGV[24] admit with KEYS[8]: the states the campaign may send in, space-separated ("" = any)
-- ARGV[25..] admit: tokens of calls that ended since this process's last admission, freed first
--
-- acquire returns "0" when admitted, else the seconds to wait before asking again (as a string,
-- since Lua numbers reach Redis as integers). admit takes a slot of the in-flight cap and charges the
-- budget in one step, or does neither: it returns {"ok", "0"}, {"slot", "0"} while the cap is full, or
-- {"budget", seconds to wait}, or {"share", seconds to wait} when the campaign has used its share of the
-- channel (below); one round trip per call instead of one for the slot and one for the budget, and no
-- slot is held while the budget makes the call wait. With the journal keys it admits
-- nothing and returns {"lease", "0"} when the lease is not the caller's, {"final", "0"} when the chunk
-- is already done or failed (in_flight_fence.lua; checked after the cap: at a full cap the answer is "slot",
-- and the fence answers the attempt that finds room), {"halt", state} when the campaign is in no state of
-- ARGV[24] (paused, cancelled: no send leaves after the pause that a worker's cached state has not seen
-- yet); an admitted call is journaled in flight before the reply. The other operations return the state
-- after them: {rate, effective rate, factor, burst
-- seconds, backlog seconds}.
--
-- Bad values never open the budget (a stored rate of 0 had made the backlog infinite, and a rate set
-- after it NaN, which admitted everything). A wrong argument (a default, a value to set, n, retry_after,
-- the clock) is an error reply before anything is written. Damaged state is repaired by the run that
-- reads it, and the repair goes to the Redis log: a stored field that is not a finite number in its range,
-- or a hash without its rate or burst, takes the defaults; a damaged throttle state becomes a throttle to
-- the floor just now; and the backlog counts a full burst as spent, since nothing tells what the damage
-- let through. A channel without a hash runs on the defaults from an idle backlog and stores them with
-- its first write; a missing tat is an idle backlog, a missing throttle state no throttle.

--#include in_flight_fence
--#include clock
--#include shares

local key = KEYS[1]
local op = ARGV[1]
local now = seconds_now(ARGV[2])


-- nil when ARGV[i] is a number in [low, high], else the error that refuses the run
local function wrong(i, name, low, high)
  if within(tonumber(ARGV[i]), low, high) then
    return nil
  end
  return string.format('rate.lua: %s %q is outside %s to %s', name, ARGV[i], low, high)
end

local rate_low, rate_high = tonumber(ARGV[5]), tonumber(ARGV[6])
local burst_low, burst_high = tonumber(ARGV[7]), tonumber(ARGV[8])
local floor = tonumber(ARGV[10])
local problem = wrong(3, 'default rate', rate_low, rate_high)
  or wrong(4, 'default burst', burst_low, burst_high)
if not within(now, 0, math.huge) then
  problem = 'rate.lua: clock ' .. ARGV[2] .. ' is not a time'
elseif op == 'acquire' or op == 'admit' then
  problem = problem or wrong(13, 'n', 1, math.huge)
elseif op == 'set' then
  problem = problem or wrong(13, 'rate', rate_low, rate_high)
  if ARGV[14] ~= '' then
    problem = problem or wrong(14, 'burst', burst_low, burst_high)
  end
elseif op == 'throttle' then
  if ARGV[13] ~= '' then
    problem = problem or wrong(13, 'retry_after', 0, math.huge)
  end
elseif op ~= 'info' then
  problem = 'rate.lua: unknown operation ' .. op
end
if problem then
  return redis.error_reply(problem)
end

local FIELDS = {'rate', 'burst', 'tat', 'factor', 'throttled_at'}
local state = redis.call('HMGET', key, unpack(FIELDS))
local fresh = not (state[1] or state[2] or state[3] or state[4] or state[5])
local damaged = {}

-- stored field i as a number in [low, high], else false; a bad value, or a missing one that is
-- ``required`` (rate, burst: every write stores them), is noted as damage
local function stored(i, low, high, required)
  local raw = state[i]
  local x = raw and within(tonumber(raw), low, high)
  if not x and (raw or (required and not fresh)) then
    damaged[#damaged + 1] = FIELDS[i] .. '=' .. (raw or 'missing')
  end
  return x
end

local rate = stored(1, rate_low, rate_high, true) or tonumber(ARGV[3])
local burst = stored(2, burst_low, burst_high, true) or tonumber(ARGV[4])
local tat = math.max(stored(3, -math.huge, math.huge) or now, now)
local stored_factor, throttled_at = stored(4, floor, 1), stored(5, -math.huge, math.huge)
local base_factor = stored_factor or 1
if (state[4] and not stored_factor) or (state[5] and not throttled_at) then
  base_factor, throttled_at = floor, now
end

local function fmt(x)
  return string.format('%.17g', x)  -- every digit of a double: a stored value reads back as written
end

-- HSET of field, value pairs; the first write to a fresh channel also stores the defaults it runs on,
-- so a hash without its rate or burst has been damaged
local function save(...)
  if fresh then
    fresh = false
    redis.call('HSET', key, 'rate', fmt(rate), 'burst', fmt(burst), ...)
  else
    redis.call('HSET', key, ...)
  end
end

if #damaged > 0 then
  tat = math.max(tat, now + burst)
  redis.log(redis.LOG_WARNING, 'rate.lua: repaired ' .. key .. ': ' .. table.concat(damaged, ', '))
  redis.call('HSET', key, 'rate', fmt(rate), 'burst', fmt(burst), 'tat', fmt(tat))
  if throttled_at then
    redis.call('HSET', key, 'factor', fmt(base_factor), 'throttled_at', fmt(throttled_at))
  end
end

local factor = 1
if throttled_at and base_factor < 1 then
  local progress = math.min(math.max((now - throttled_at) / tonumber(ARGV[11]), 0), 1)
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
  save('tat', fmt(tat + n / (rate * factor)))
  return '0'
end

-- A campaign's own bucket: its share of the effective rate among the campaigns asking now (shares.lua),
-- with the burst of the channel. A call of the campaign passes when its bucket has room, or when the
-- channel's budget is idle (a backlog of nothing: the others leave budget unused, so it is anyone's);
-- its own cap (max_rate) it never passes. Returns nil and a commit function, or the seconds to wait.
-- The backlog of a bucket stands for numbers, as the channel's does: a new share rescales it.
local function share_of(tenant, n, effective)
  local buckets = KEYS[3]
  local members = asking(KEYS[4], '-inf', KEYS[5], ARGV[23], rate_low, rate_high)
  local mine_cap = nil
  for _, m in ipairs(members) do
    if m.id == tenant then
      mine_cap = m.cap
    end
  end
  local a = math.max(shares(effective, members, tonumber(ARGV[21]))[tenant] or 0, rate_low)
  local mine = redis.call('HMGET', buckets, tenant .. ':t', tenant .. ':a', tenant .. ':c')
  local bt = math.max(within(tonumber(mine[1]), -math.huge, math.huge) or now, now)
  local before = within(tonumber(mine[2]), rate_low, math.huge) or a
  bt = now + (bt - now) * before / a
  local ct = math.max(within(tonumber(mine[3]), -math.huge, math.huge) or now, now)
  if mine_cap and ct - now > burst then
    return ct - now - burst
  end
  if bt - now > burst and tat > now then
    return bt - now - burst
  end
  return nil, function()
    redis.call('HSET', buckets, tenant .. ':t', fmt(bt + n / a), tenant .. ':a', fmt(a))
    if mine_cap then
      redis.call('HSET', buckets, tenant .. ':c', fmt(ct + n / mine_cap))
    end
  end
end

if op == 'acquire' then
  return charge(tonumber(ARGV[13]))
elseif op == 'admit' then
  local slots = KEYS[2]
  if #ARGV > 24 then
    redis.call('ZREM', slots, unpack(ARGV, 25))
  end
  -- expired tokens (of workers that died or hung past the lease) only matter at a full cap: dropped
  -- then, not on every admission (one command fewer per provider call while the cap has room)
  local holders = redis.call('ZCARD', slots)
  if holders >= tonumber(ARGV[15]) then
    holders = holders - redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
    if holders >= tonumber(ARGV[15]) then
      return {'slot', '0'}
    end
  end
  -- the fence after the cap: a refusal writes nothing either way, and an attempt at a full cap (most of
  -- the refused ones) no longer reads the lease and the journal for nothing
  local journal = KEYS[7]
  if journal then
    local refused = in_flight_refused(KEYS[6], ARGV[17], journal, ARGV[18])
    if refused then
      return {refused, '0'}
    end
    if ARGV[24] ~= '' then
      local state = redis.call('HGET', KEYS[8], 'state') or ''
      if not string.find(' ' .. ARGV[24] .. ' ', ' ' .. state .. ' ', 1, true) then
        return {'halt', state}
      end
    end
  end
  local tenant = ARGV[20]
  if tenant ~= '' then
    -- a campaign asks whether or not it gets budget now: its share is set aside for it from now on
    redis.call('ZADD', KEYS[4], now, tenant)
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[22]))
  end
  if tat - now > burst then
    return {'budget', fmt(tat - now - burst)}
  end
  local n = tonumber(ARGV[13])
  if tenant ~= '' then
    local wait, commit = share_of(tenant, n, rate * factor)
    if wait then
      return {'share', fmt(wait)}
    end
    commit()
  end
  charge(n)
  redis.call('ZADD', slots, fmt(now + tonumber(ARGV[16])), ARGV[14])
  if journal then
    redis.call('HSET', journal, ARGV[18], ARGV[19])
  end
  return {'ok', '0'}
elseif op == 'throttle' then
  if not throttled_at or now - throttled_at >= tonumber(ARGV[12]) then
    local lowered = math.max(floor, factor * tonumber(ARGV[9]))
    rescale(factor, lowered)
    factor = lowered
    save('factor', fmt(factor), 'throttled_at', fmt(now))
  end
  if ARGV[13] ~= '' then
    -- admission happens once tat - now <= burst: nobody is admitted before now + retry_after
    tat = math.max(tat, now + tonumber(ARGV[13]) + burst)
  end
  save('tat', fmt(tat))
elseif op == 'set' then
  local new_rate = tonumber(ARGV[13])
  rescale(rate, new_rate)
  rate = new_rate
  if ARGV[14] ~= '' then
    burst = tonumber(ARGV[14])
  end
  redis.call('HSET', key, 'rate', fmt(rate), 'burst', fmt(burst), 'tat', fmt(tat))
end
return {fmt(rate), fmt(rate * factor), fmt(factor), fmt(burst), fmt(tat - now)}
