"""Batch leases, the in-flight fence and the sweeper, against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from arq.connections import ArqRedis

from engine.budget.limiter import RateLimiter
from engine.budget.records import Caller
from engine.dispatch.sweeper import Sweeper
from engine.errors import LeaseLost, StateError, StateLost
from engine.runtime.settings import DispatchSettings, RateSettings
from engine.state.lease import Leases, run_field
from engine.state.progress import Progress
from engine.state.records import ChunkRecord, ChunkState, Stage
from engine.store import keys
from engine.store.scripts import Scripts

CID = "lease-test"


def in_flight(ref: str = "r") -> ChunkRecord:
    return ChunkRecord(ChunkState.IN_FLIGHT, ref, 10, attempts=1)


async def test_a_batch_has_one_holder_and_is_free_again_after_release(arq_redis: ArqRedis) -> None:
    leases = Leases(arq_redis, ttl=5)
    async with leases.hold(CID, 0) as first:
        assert first is not None
        async with leases.hold(CID, 0) as second:
            assert second is None
        assert await arq_redis.hget(keys.RUNNING, run_field(CID, 0)) == first.token.encode()
    assert not await arq_redis.exists(keys.lease(CID, 0))
    assert not await arq_redis.hexists(keys.RUNNING, run_field(CID, 0))
    async with leases.hold(CID, 0) as again:
        assert again is not None


async def test_the_heartbeat_keeps_a_lease_alive_past_its_ttl(arq_redis: ArqRedis) -> None:
    leases = Leases(arq_redis, ttl=0.3)
    async with leases.hold(CID, 1) as lease:
        assert lease is not None
        await asyncio.sleep(1.0)
        assert await arq_redis.get(lease.key) == lease.token.encode()
        lease.check()


async def test_a_lost_lease_stops_the_holder_and_fences_its_journal(arq_redis: ArqRedis) -> None:
    leases = Leases(arq_redis, ttl=0.3)
    progress = Progress(arq_redis, Scripts(arq_redis), CID, 2)
    async with leases.hold(CID, 2) as lease:
        assert lease is not None
        await progress.in_flight(lease, Stage.SMART, 0, in_flight())
        await arq_redis.set(lease.key, "successor")  # another worker took the batch over
        await asyncio.sleep(0.5)
        assert lease.lost.is_set()
        with pytest.raises(LeaseLost):
            lease.check()
        with pytest.raises(LeaseLost):
            await progress.in_flight(lease, Stage.SMART, 1, in_flight())
    assert await arq_redis.get(keys.lease(CID, 2)) == b"successor", (
        "release must not drop a successor's lease"
    )
    assert set(await progress.chunks()) == {"smart:0"}


async def test_a_final_chunk_is_never_reopened(arq_redis: ArqRedis) -> None:
    scripts = Scripts(arq_redis)
    progress = Progress(arq_redis, scripts, CID, 3)
    async with Leases(arq_redis).hold(CID, 3) as lease:
        assert lease is not None
        await progress.in_flight(lease, Stage.SMART, 0, in_flight())
        await progress.finish(Stage.SMART, 0, ChunkRecord(ChunkState.DONE, "r", 10), 10, {})
        with pytest.raises(StateError):
            await progress.in_flight(lease, Stage.SMART, 0, in_flight())
    assert (await progress.chunks())["smart:0"].state is ChunkState.DONE


async def test_the_admission_journals_the_call_and_is_fenced_like_the_mark(arq_redis: ArqRedis) -> None:
    limiter = RateLimiter(arq_redis, RateSettings())
    progress = Progress(arq_redis, Scripts(arq_redis), CID, 5)
    async with Leases(arq_redis).hold(CID, 5) as lease:
        assert lease is not None
        async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 0, in_flight)):
            # journaled by the admission itself, before the call goes out
            assert (await progress.chunks())["smart:0"].state is ChunkState.IN_FLIGHT
            assert await arq_redis.zcard(keys.in_flight("smart")) == 1
        await limiter.flush("smart")
        await progress.finish(Stage.SMART, 0, ChunkRecord(ChunkState.DONE, "r", 10), 10, {})
        with pytest.raises(StateError):  # a final chunk is never reopened, and nothing is admitted
            async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 0, in_flight)):
                pytest.fail("a final chunk was admitted")
        await arq_redis.set(lease.key, "successor")
        with pytest.raises(LeaseLost):  # a worker that lost its lease cannot start a call
            async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 1, in_flight)):
                pytest.fail("a call was admitted without the lease")
        assert lease.lost.is_set()
        await limiter.close()
    assert set(await progress.chunks()) == {"smart:0"}
    assert await arq_redis.zcard(keys.in_flight("smart")) == 0, "a refused admission holds no slot"


async def test_the_sweeper_takes_over_a_dead_holders_batch_once_and_at_the_front(arq_redis: ArqRedis) -> None:
    scripts = Scripts(arq_redis)
    leases = Leases(arq_redis, ttl=5)
    await arq_redis.enqueue_job("dispatch_batch", "other", 0, _job_id="other:0:0", _queue_name=keys.QUEUE)
    async with leases.hold(CID, 4) as alive:
        assert alive is not None
        # a worker killed with -9: its run entry stays, its lease expires
        await arq_redis.hset(keys.RUNNING, run_field(CID, 5), "host:99:dead")
        sweepers = [Sweeper(arq_redis, scripts, DispatchSettings()) for _ in range(3)]
        taken = await asyncio.gather(*(s.sweep() for s in sweepers))
    assert sorted(taken, key=len) == [[], [], [(CID, 5)]], "one sweeper claims it; a live lease is left alone"
    queued = await arq_redis.zrange(keys.QUEUE, 0, -1)
    assert queued[0] == f"{CID}:5:takeover:dead".encode(), "the taken-over batch runs before older jobs"
    assert not await arq_redis.hexists(keys.RUNNING, run_field(CID, 5))


async def test_a_takeover_frees_the_dead_holders_slots_and_only_those(arq_redis: ArqRedis) -> None:
    limiter = RateLimiter(arq_redis, RateSettings(), lease_seconds=3600)
    leases = Leases(arq_redis, ttl=5)
    smart, checks = keys.in_flight("smart"), keys.in_flight("capability")
    dead = "host:99:dead"
    left_alone = ["host:99:dead2#1", "0123456789abcdef:7"]  # another holder's tag; a call outside a lease
    await arq_redis.zadd(smart, dict.fromkeys([f"{dead}#1", f"{dead}#2", *left_alone], 2e9))
    await arq_redis.zadd(checks, {f"{dead}#3": 2e9})
    async with leases.hold(CID, 4) as alive:
        assert alive is not None
        async with limiter.slot("smart", caller=Caller(alive.token)):
            live = [token.decode() for token in await arq_redis.zrange(smart, 0, -1)]
            assert [t for t in live if t.startswith(alive.token + "#")], "the slot carries the lease token"
            await arq_redis.hset(keys.RUNNING, run_field(CID, 5), dead)  # killed: its lease has expired
            assert await Sweeper(arq_redis, Scripts(arq_redis), DispatchSettings()).sweep() == [(CID, 5)]
            kept = {token.decode() for token in await arq_redis.zrange(smart, 0, -1)}
            assert kept == {*left_alone, *(t for t in live if t.startswith(alive.token))}
            assert await arq_redis.zcard(checks) == 0


async def test_the_sweeper_notices_that_redis_lost_its_data(arq_redis: ArqRedis) -> None:
    sweeper = Sweeper(arq_redis, Scripts(arq_redis), DispatchSettings(sweep_interval=0.05))
    await sweeper.start()
    await sweeper.check_instance()
    await arq_redis.flushdb()
    lost: list[StateLost] = []
    await asyncio.wait_for(sweeper.run(lost.append), timeout=5)
    assert len(lost) == 1 and "Redis lost its data" in str(lost[0])


async def test_a_job_whose_worker_died_before_taking_the_lease_is_requeued(arq_redis: ArqRedis) -> None:
    """arq marked the job in progress, then the worker was killed before the batch job took its lease."""
    settings = DispatchSettings()
    sweeper = Sweeper(arq_redis, Scripts(arq_redis), settings)
    await arq_redis.hset(keys.campaign(CID), "state", "running")
    for batch, age_ms in ((6, sweeper.stuck_after_ms + 1000), (7, 200)):  # 7 is a job that just started
        job = f"{CID}:{batch}:0"
        await arq_redis.enqueue_job("dispatch_batch", CID, batch, _job_id=job, _queue_name=keys.QUEUE)
        await arq_redis.set(f"arq:in-progress:{job}", b"1", px=sweeper.in_progress_ms - age_ms)
    assert await sweeper.sweep() == [(CID, 6)]
    assert await sweeper.sweep() == [], "queued once: the takeover job's id is derived from the stuck job's"
    queued = [job.decode() for job in await arq_redis.zrange(keys.QUEUE, 0, -1)]
    assert queued[0].startswith(f"{CID}:6:takeover:stuck-")
    await arq_redis.sadd(keys.batches_done(CID), "6")
    await arq_redis.delete(f"arq:job:{queued[0]}")
    await arq_redis.zrem(keys.QUEUE, queued[0])
    assert await sweeper.sweep() == [], "a finished batch is left alone"


async def test_a_batch_whose_takeover_job_died_too_is_taken_over_again(arq_redis: ArqRedis) -> None:
    """The batch's own job and its takeover job were both killed before the lease: neither will run soon."""
    sweeper = Sweeper(arq_redis, Scripts(arq_redis), DispatchSettings())
    await arq_redis.hset(keys.campaign(CID), "state", "running")

    async def dies(job: str) -> None:
        """``job`` is queued and marked in progress by a worker that is then killed."""
        if not await arq_redis.zscore(keys.QUEUE, job):
            await arq_redis.enqueue_job("dispatch_batch", CID, 8, _job_id=job, _queue_name=keys.QUEUE)
        started_long_ago = sweeper.in_progress_ms - sweeper.stuck_after_ms
        await arq_redis.set(f"arq:in-progress:{job}", b"1", px=started_long_ago)

    await dies(f"{CID}:8:0")
    await dies(f"{CID}:8:takeover:dead")
    assert await sweeper.sweep() == [(CID, 8)]
    waiting = [j.decode() for j in await arq_redis.zrange(keys.QUEUE, 0, -1) if b"stuck-" in j]
    assert len(waiting) == 1
    assert await sweeper.sweep() == [], "its takeover job waits to run: nothing more to do"
    await dies(waiting[0])
    assert await sweeper.sweep() == [(CID, 8)], "the takeover job died as well: a new one is queued"
