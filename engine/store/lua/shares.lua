-- Shares of a channel's budget among the campaigns sending on it now (included by rate.lua).
--
-- Classes are served strictly by rank (0 urgent, 1 normal, 2 bulk), except that every lower class with a
-- campaign asking keeps a minimum share of the rate, so no class starves. Within a class, campaigns share
-- by weight. A campaign's own cap (its max_rate) is never exceeded: what a capped campaign leaves goes to
-- the others of its class, and what a class leaves goes to the classes below (water-filling).
-- members: a list of {id, rank, weight, cap (or nil)}. Returns id -> numbers per second.

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
