"""Job visibility: running jobs leave arq's queue, lapsed ones come back at its front; on a real Redis."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis

from engine.state import jobs
from engine.store import keys

CID = "jobs-test"


async def queued(redis: ArqRedis) -> list[str]:
    return [job.decode() for job in await redis.zrange(keys.QUEUE, 0, -1)]


async def enqueue(redis: ArqRedis, *batches: int) -> list[str]:
    """Batch jobs queued as arq queues them."""
    ids = [jobs.job_id(CID, batch, 0) for batch in batches]
    for job, batch in zip(ids, batches, strict=True):
        await redis.enqueue_job(jobs.BATCH_FUNCTION, CID, batch, _job_id=job, _queue_name=keys.QUEUE)
    return ids


async def start(redis: ArqRedis, job: str, seconds: float) -> None:
    """What arq and the worker's ``on_job_start`` do: the in-progress key, then the hold."""
    await redis.set(f"arq:in-progress:{job}", b"1", px=int(seconds * 1000))
    await jobs.hold(redis, [job], seconds, start=True)


async def test_a_started_job_leaves_the_queue_for_the_running_set(arq_redis: ArqRedis) -> None:
    first, second = await enqueue(arq_redis, 0, 1)
    await start(arq_redis, first, 5)
    assert await queued(arq_redis) == [second], "arq's poll sees only what may run"
    assert await arq_redis.zscore(keys.RUNNING_JOBS, first) is not None
    assert await jobs.reap(arq_redis) == [], "a held job is left alone"


async def test_a_lapsed_job_goes_back_to_the_front_of_the_queue(arq_redis: ArqRedis) -> None:
    """Its worker died: no renewal. It runs before every batch queued before it, and nobody's stale
    in-progress key keeps a worker from starting it."""
    dead, waiting = await enqueue(arq_redis, 0, 1)
    await start(arq_redis, dead, 0.2)
    await asyncio.sleep(0.3)
    assert await jobs.reap(arq_redis) == [dead]
    assert await queued(arq_redis) == [dead, waiting]
    assert not await arq_redis.exists(f"arq:in-progress:{dead}")
    assert await arq_redis.zcard(keys.RUNNING_JOBS) == 0
    assert await jobs.reap(arq_redis) == [], "put back once"


async def test_renewal_keeps_a_job_held_and_never_takes_back_a_reaped_one(arq_redis: ArqRedis) -> None:
    alive, stalled = await enqueue(arq_redis, 0, 1)
    await start(arq_redis, alive, 0.4)
    await start(arq_redis, stalled, 0.2)
    await asyncio.sleep(0.25)
    assert await jobs.hold(arq_redis, [alive], 0.4, start=False) == 1
    assert await jobs.reap(arq_redis) == [stalled]
    assert await jobs.hold(arq_redis, [stalled], 0.4, start=False) == 0, "reaped: someone else's now"
    assert await arq_redis.zscore(keys.RUNNING_JOBS, stalled) is None
    assert await queued(arq_redis) == [stalled]


async def test_a_job_that_finished_as_its_worker_died_is_dropped_not_run_again(arq_redis: ArqRedis) -> None:
    (done,) = await enqueue(arq_redis, 0)
    await start(arq_redis, done, 0.1)
    await arq_redis.delete(f"arq:job:{done}")  # arq settled it; the worker died before it left the set
    await asyncio.sleep(0.2)
    assert await jobs.reap(arq_redis) == []
    assert await queued(arq_redis) == [] and await arq_redis.zcard(keys.RUNNING_JOBS) == 0


async def test_every_lapsed_job_is_put_back_however_many_died(arq_redis: ArqRedis) -> None:
    """No window: a crash loop that leaves more dead jobs than one script call takes loses none."""
    dead = await enqueue(arq_redis, *range(jobs.REAP_PER_CALL + 7))
    await jobs.hold(arq_redis, dead, 0.1, start=True)
    assert await queued(arq_redis) == []
    await asyncio.sleep(0.2)
    assert sorted(await jobs.reap(arq_redis)) == sorted(dead)
    assert sorted(await queued(arq_redis)) == sorted(dead)


async def test_a_released_job_is_back_at_its_start_score(arq_redis: ArqRedis) -> None:
    """Before a retry: arq then adds the delay to the score it started with."""
    (job,) = await enqueue(arq_redis, 0)
    score = await arq_redis.zscore(keys.QUEUE, job)
    assert score is not None
    await start(arq_redis, job, 5)
    await jobs.release(arq_redis, job, int(score))
    assert await arq_redis.zscore(keys.QUEUE, job) == score
    assert await arq_redis.zcard(keys.RUNNING_JOBS) == 0


async def test_a_held_job_keeps_its_job_key_past_arqs_lifetime(arq_redis: ArqRedis) -> None:
    """arq gives a job key a day: a campaign paused for days must not find its batches' jobs expired."""
    (job,) = await enqueue(arq_redis, 0)
    await arq_redis.pexpire(f"arq:job:{job}", 1000)
    await start(arq_redis, job, 5)
    assert await arq_redis.pttl(f"arq:job:{job}") > jobs.JOB_LIFETIME.total_seconds() * 1000 - 60_000
