"""The feeder: a campaign's batches dispensed to arq's queue a window at a time; on a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from arq.jobs import Job

from engine.ingest.spec import CampaignSpec
from engine.state import campaigns, feeder, jobs
from engine.store import keys
from engine.types import CampaignState
from tests.specs import make_spec

CID = "feed-test"


async def submitted(
    redis: ArqRedis, batches: int, window: int, *, spec: CampaignSpec | None = None, cid: str = CID
) -> None:
    """A campaign record and its backlog, as the planner leaves them (the first feed is the test's)."""
    await campaigns.create(
        redis, cid, spec or make_spec("skip"), CampaignState.RUNNING, batches, {}, window=window
    )
    await feeder.add(redis, cid, range(batches), 1.0)


async def queued_batches(redis: ArqRedis, cid: str = CID) -> list[int]:
    return sorted(int(batch) for _, batch in await redis.zrange(keys.dispensed(cid), 0, -1, withscores=True))


async def end(redis: ArqRedis, batch: int, *, done: bool, cid: str = CID) -> None:
    """What arq leaves when a batch job ends: its job key and queue entry gone; ``done`` if it finished."""
    job = jobs.job_id(cid, batch, 0)
    await redis.delete(f"arq:job:{job}")
    await redis.zrem(keys.QUEUE, job)
    if done:
        await redis.sadd(keys.batches_done(cid), str(batch))


async def test_a_campaign_is_dispensed_a_window_at_a_time_and_refilled_as_jobs_end(
    arq_redis: ArqRedis,
) -> None:
    await submitted(arq_redis, 10, window=3)
    assert await feeder.feed(arq_redis, CID) == [0, 1, 2]
    assert await feeder.feed(arq_redis, CID) == [], "the window is full"
    await end(arq_redis, 1, done=True)
    assert await feeder.feed(arq_redis, CID) == [3]
    assert await queued_batches(arq_redis) == [0, 2, 3]


async def test_a_dispensed_job_looks_as_arq_would_have_queued_it(arq_redis: ArqRedis) -> None:
    await submitted(arq_redis, 1, window=1)
    await feeder.feed(arq_redis, CID)
    job = Job(jobs.job_id(CID, 0, 0), arq_redis, keys.QUEUE, arq_redis.job_deserializer)
    info = await job.info()
    assert info is not None
    assert (info.function, info.args) == (jobs.BATCH_FUNCTION, [CID, 0])
    assert abs(info.score - datetime.now(UTC).timestamp() * 1000) < 5000


async def test_a_halted_batch_goes_back_to_the_backlog_and_waits_for_resume(arq_redis: ArqRedis) -> None:
    """A pause ends the batch jobs unfinished: nothing is fed while paused; after the resume (a new
    generation of job ids) every unfinished batch runs, each once, and a finished one never again."""
    await submitted(arq_redis, 3, window=3)
    await feeder.feed(arq_redis, CID)
    await campaigns.transition(arq_redis, CID, CampaignState.PAUSED)
    await end(arq_redis, 0, done=True)
    await end(arq_redis, 1, done=False)
    await end(arq_redis, 2, done=False)
    assert await feeder.feed(arq_redis, CID) == [], "paused: nothing is dispensed"
    await campaigns.transition(arq_redis, CID, CampaignState.RUNNING, bump_generation=True)
    assert await feeder.feed(arq_redis, CID) == [1, 2]
    assert await arq_redis.zscore(keys.QUEUE, f"{CID}:1:1") is not None, "queued under the new generation"


async def test_a_scheduled_campaign_is_dispensed_for_its_start_time(arq_redis: ArqRedis) -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    spec = make_spec("skip").model_copy(update={"schedule": make_spec("skip").schedule.model_copy(
        update={"start_at": start}
    )})  # fmt: skip
    await submitted(arq_redis, 2, window=2, spec=spec)
    await feeder.feed(arq_redis, CID)
    scores = [score for _, score in await arq_redis.zrange(keys.QUEUE, 0, -1, withscores=True)]
    assert scores == [start.timestamp() * 1000 // 1] * 2


async def test_every_running_campaign_gets_its_window_and_finished_ones_leave_the_list(
    arq_redis: ArqRedis,
) -> None:
    """Two campaigns of 50 batches each: both have batch jobs queued at once, whichever came first."""
    await submitted(arq_redis, 50, window=4, cid="first")
    await submitted(arq_redis, 50, window=4, cid="second")
    fed = await feeder.feed_all(arq_redis)
    assert fed == {"first": [0, 1, 2, 3], "second": [0, 1, 2, 3]}
    await submitted(arq_redis, 1, window=4, cid="done")
    await arq_redis.zrem(keys.backlog("done"), "0")
    await arq_redis.sadd(keys.batches_done("done"), "0")
    await feeder.feed_all(arq_redis)
    assert [c.decode() for c in await arq_redis.zrange(keys.FEEDING, 0, -1)] == ["first", "second"]


async def test_restock_puts_back_a_lost_batch_once(arq_redis: ArqRedis) -> None:
    await submitted(arq_redis, 4, window=2)
    await feeder.feed(arq_redis, CID)  # 0 and 1 dispensed
    await arq_redis.zrem(keys.backlog(CID), "3")  # lost, e.g. by a submission that died half way
    await arq_redis.sadd(keys.batches_done(CID), "2")
    record = await campaigns.load(arq_redis, CID)
    assert await feeder.restock(arq_redis, record.cid, record.batches, record.created_at) == 1
    assert sorted(int(b) for b in await arq_redis.zrange(keys.backlog(CID), 0, -1)) == [2, 3]
