-- The jobs a worker runs, kept out of arq's queue while they run, each with a visibility deadline.
--
-- arq leaves a running job in its queue at its score, guarded by an in-progress key, and its poll reads
-- only the first few hundred ids of the queue: jobs of dead workers (their keys live for the job timeout)
-- and the running jobs of a large fleet fill that window, and no worker sees a runnable job behind them.
-- Here a started job leaves the queue for the running set, scored with a deadline its worker pushes
-- ahead while it lives (Redis time, so no host clock matters); reap_jobs.lua puts a job whose deadline
-- passed back at the front of the queue.
--
-- KEYS[1] arq queue, KEYS[2] running set (job id -> deadline, ms)
-- ARGV[1] visibility ms, ARGV[2] "start" or "renew", ARGV[3] in-progress key prefix, ARGV[4] job key
-- prefix, ARGV[5] job key lifetime ms, ARGV[6..] job ids
-- start: each job leaves the queue and enters the running set; its in-progress key (which blocks a second
--   start while it is still in the queue) and its job key are given the visibility and the job lifetime.
-- renew: only jobs still in the running set move their deadline (a job reaped while this worker stalled
--   belongs to whoever runs it now); their job keys keep their lifetime.
-- Returns how many jobs were held.
--#include clock
local deadline = math.floor(seconds_now() * 1000) + tonumber(ARGV[1])
local held = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  if ARGV[2] == 'start' then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], deadline, id)
    redis.call('PEXPIRE', ARGV[3] .. id, ARGV[1])
    held = held + 1
  else
    held = held + redis.call('ZADD', KEYS[2], 'XX', 'CH', deadline, id)
  end
  redis.call('PEXPIRE', ARGV[4] .. id, ARGV[5])
end
return held
