-- The cap on provider calls in flight of one channel, shared by every worker: a sorted set of call
-- tokens scored by the expiry of their lease. Expired tokens belong to workers that died (kill -9)
-- or hung past the lease; dropping them first means a crash never holds capacity beyond one lease.
-- rate.lua's admit applies the same rule together with the budget, for the dispatcher's calls.
--
-- KEYS[1] the channel's sorted set (engine.keys.in_flight)
-- ARGV[1] clock in seconds; "" = Redis TIME (an explicit clock is for tests only)
-- ARGV[2] token to add; "" only counts the live holders
-- ARGV[3] most tokens allowed at once
-- ARGV[4] lease seconds of the added token
--
-- Returns {1 if the token was added else 0, live tokens after the call}.

--#include clock

local key = KEYS[1]
local now = seconds_now(ARGV[1])

redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local holders = redis.call('ZCARD', key)
if ARGV[2] == '' or holders >= tonumber(ARGV[3]) then
  return {0, holders}
end
redis.call('ZADD', key, string.format('%.6f', now + tonumber(ARGV[4])), ARGV[2])
return {1, holders + 1}
