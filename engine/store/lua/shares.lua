-- Shares of a channel's budget among the campaigns sending on it now (included by rate.lua).
--
-- Classes are served strictly by rank (0 urgent, 1 normal, 2 bulk), except that every lower class with a
-- campaign asking keeps a minimum share of the rate, so no class starves. Within a class, campaigns share
-- by weight. A campaign's own cap (its max_rate) is never exceeded: what a capped campaign leaves goes to
-- the others of its class, and what a class leaves goes to the classes below (water-filling).
-- members: a list of {id, rank, weight, cap (or nil)} (``asking``). ``shares`` returns id -> numbers per
-- second. Included by rate.lua (admission) and peek_shares.lua (``koodispatch status``).

-- x when it is a finite number in [low, high], else nil (NaN fails every comparison)
local function within(x, low, high)
  if x and x >= low and x <= high and x > -math.huge and x < math.huge then
    return x
  end
  return nil
end

-- The campaigns that asked for a channel since ``since`` (its zset ``active``), with their class, weight
-- and own cap on it from ``tenants`` (engine/budget/tenants.py); a cap outside [rate_low, rate_high] is none.
local function asking(active, since, tenants, channel, rate_low, rate_high)
  local ids = redis.call('ZRANGEBYSCORE', active, since, '+inf')
  if #ids == 0 then
    return {}
  end
  local fields = {}
  for _, id in ipairs(ids) do
    fields[#fields + 1] = id
    fields[#fields + 1] = id .. ':' .. channel
  end
  local params = redis.call('HMGET', tenants, unpack(fields))
  local members = {}
  for i, id in ipairs(ids) do
    local rank, weight = string.match(params[2 * i - 1] or '1 1', '^(%d+) (%S+)$')
    members[i] = {
      id = id,
      rank = tonumber(rank) or 1,
      weight = within(tonumber(weight), 1e-6, 1e6) or 1,
      cap = within(tonumber(params[2 * i]), rate_low, rate_high),
    }
  end
  return members
end

local function fill(pool, members, alloc)
  local open = members
  while #open > 0 do
    local weights = 0
    for _, m in ipairs(open) do
      weights = weights + m.weight
    end
    local per_weight = pool / weights
    local still, capped = {}, false
    for _, m in ipairs(open) do
      if m.cap and m.cap < m.weight * per_weight then
        alloc[m.id] = m.cap
        pool = pool - m.cap
        capped = true
      else
        still[#still + 1] = m
      end
    end
    if not capped then
      for _, m in ipairs(still) do
        alloc[m.id] = m.weight * per_weight
      end
      return 0
    end
    open = still
  end
  return pool
end

local function shares(rate, members, min_share)
  local by_rank, ranks = {}, {}
  for _, m in ipairs(members) do
    if not by_rank[m.rank] then
      by_rank[m.rank] = {}
      ranks[#ranks + 1] = m.rank
    end
    table.insert(by_rank[m.rank], m)
  end
  table.sort(ranks)
  local kept = math.min(min_share * rate, rate / #ranks)
  local alloc, carry = {}, 0
  for i, rank in ipairs(ranks) do
    local pool = kept
    if i == 1 then
      pool = rate - kept * (#ranks - 1)
    end
    carry = fill(pool + carry, by_rank[rank], alloc)
  end
  return alloc
end
