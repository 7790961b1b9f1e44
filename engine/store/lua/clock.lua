-- The time, in seconds since the epoch with microseconds (included by every script that reads a clock).
--
-- Redis's own clock unless the caller passes one (tests step the clock): one clock for every worker on
-- every host, whatever their own clocks say.
local function seconds_now(given)
  if given ~= nil and given ~= '' then
    return tonumber(given)
  end
  local time = redis.call('TIME')
  return tonumber(time[1]) + tonumber(time[2]) / 1000000
end
