-- Queue many arq jobs in one call, each exactly as arq's enqueue_job would (its WATCH/MULTI made atomic
-- here): a job whose id already has a job or result key is skipped.
-- KEYS[1] queue (sorted set); then per job its job key and result key: KEYS[2i], KEYS[2i+1].
-- ARGV[1] job-key lifetime in ms; then per job its id, score and serialized job: ARGV[3i-1..3i+1].
-- Returns how many jobs were queued.
local queued = 0
for i = 1, (#KEYS - 1) / 2 do
  local job_key, result_key = KEYS[2 * i], KEYS[2 * i + 1]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    local id, score, job = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
    redis.call('PSETEX', job_key, ARGV[1], job)
    redis.call('ZADD', KEYS[1], score, id)
    queued = queued + 1
  end
end
return queued
