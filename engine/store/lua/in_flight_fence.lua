-- Included by the scripts that journal a chunk in flight (--#include in_flight_fence): the fence that keeps
-- two holders off one chunk. A worker that lost its batch lease (stalled past the TTL while a successor
-- took the batch over) can no longer start a call, and a chunk already final (done/failed) is never
-- reopened; one awaiting its status reports may be (the settle job resends it). Returns nil when the chunk
-- may be journaled, else why not: 'lease' or 'final'.
local function in_flight_refused(lease_key, token, journal, field)
  if redis.call('GET', lease_key) ~= token then
    return 'lease'
  end
  local previous = redis.call('HGET', journal, field)
  if previous then
    local state = cjson.decode(previous)['state']
    if state ~= 'in_flight' and state ~= 'awaiting' then
      return 'final'
    end
  end
  return nil
end
