-- Keep a campaign's window of batch jobs in arq's queue (or running), taking batches from its backlog.
--
-- arq runs jobs in score order and its poll reads only the front of its queue: with every batch of a big
-- campaign queued at once, a campaign submitted after it would not start until the first one drained.
-- So a campaign's batches wait in its own backlog, and only a window of them is dispensed as jobs at a
-- time; every running campaign then has batches running, and the rate budget decides who sends.
--
-- A dispensed job whose job key is gone has ended: finished (its batch is done), or halted by a pause, a
-- cancel or an outage. Its batch goes back to the backlog unless it is done, so a resumed campaign (or a
-- job lost between its dispensing and a crash) continues with every unfinished batch, each once.
--
-- KEYS[1] arq queue, KEYS[2] campaign hash, KEYS[3] backlog (zset batch -> batch), KEYS[4] dispensed
-- (zset job id -> batch), KEYS[5] the campaign's finished batches (set), KEYS[6] campaigns being fed
-- (zset, engine.store.keys.FEEDING)
-- ARGV[1] window when the campaign hash names none (field window), ARGV[2] job key prefix, ARGV[3] job key lifetime ms, ARGV[4] now (ms; jobs run from
-- then, or from the campaign's start time, field start_ms, if later), ARGV[5] campaign id, ARGV[6] payload prefix, ARGV[7] payload suffix: a job's serialized
-- payload is prefix .. batch .. suffix (built by arq's serializer in Python)
-- Returns the batches dispensed now.
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'running' and state ~= 'scheduled' then
  if state ~= 'paused' then
    redis.call('ZREM', KEYS[6], ARGV[5])  -- over, or unknown: nothing more to feed
  end
  return {}
end
local generation = redis.call('HGET', KEYS[2], 'generation') or '0'
local score = math.max(tonumber(ARGV[4]), tonumber(redis.call('HGET', KEYS[2], 'start_ms') or '0'))
local live = 0
local dispensed = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
for i = 1, #dispensed, 2 do
  local id, batch = dispensed[i], dispensed[i + 1]
  if redis.call('EXISTS', ARGV[2] .. id) == 1 then
    live = live + 1
  else
    redis.call('ZREM', KEYS[4], id)
    if redis.call('SISMEMBER', KEYS[5], batch) == 0 then
      redis.call('ZADD', KEYS[3], batch, batch)
    end
  end
end
local need = tonumber(redis.call('HGET', KEYS[2], 'window') or ARGV[1]) - live
if need <= 0 then
  return {}
end
local taken = redis.call('ZPOPMIN', KEYS[3], need)
local batches = {}
for i = 1, #taken, 2 do
  local batch = taken[i]
  local id = ARGV[5] .. ':' .. batch .. ':' .. generation
  redis.call('PSETEX', ARGV[2] .. id, ARGV[3], ARGV[6] .. batch .. ARGV[7])
  redis.call('ZADD', KEYS[1], score, id)
  redis.call('ZADD', KEYS[4], batch, id)
  batches[#batches + 1] = batch
end
if #batches == 0 and live == 0 then
  redis.call('ZREM', KEYS[6], ARGV[5])  -- every batch finished: the campaign is fed no more
end
return batches
