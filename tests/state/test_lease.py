"""Batch leases, the in-flight fence, a dead holder's slots at takeover, the dataset id; on a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from arq.connections import ArqRedis

from engine.budget.limiter import RateLimiter
from engine.budget.records import Caller
from engine.errors import Halt, LeaseLost, StateError, StateLost
from engine.runtime.settings import RateSettings
from engine.state.instance import InstanceWatch
from engine.state.lease import Leases, run_field
from engine.state.progress import Progress
from engine.state.records import ChunkRecord, ChunkState, Stage
from engine.store import keys
from engine.store.scripts import Scripts
from engine.types import CampaignState

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
    await arq_redis.hset(keys.campaign(CID), "state", CampaignState.RUNNING.value)  # type: ignore[misc]
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


async def test_no_send_is_admitted_once_the_campaign_is_paused_whatever_a_worker_last_read(
    arq_redis: ArqRedis,
) -> None:
    """The admission reads the campaign's state itself: a worker whose cached copy still says running
    (``control.StateView``) starts no call after the pause took effect, and journals none."""
    limiter = RateLimiter(arq_redis, RateSettings())
    progress = Progress(arq_redis, Scripts(arq_redis), CID, 6)
    campaign = keys.campaign(CID)
    await arq_redis.hset(campaign, "state", CampaignState.RUNNING.value)  # type: ignore[misc]
    async with Leases(arq_redis).hold(CID, 6) as lease:
        assert lease is not None
        async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 0, in_flight)):
            pass
        for state in (CampaignState.PAUSED, CampaignState.CANCELLED, CampaignState.COMPLETED):
            await arq_redis.hset(campaign, "state", state.value)  # type: ignore[misc]
            with pytest.raises(Halt) as halted:
                async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 1, in_flight)):
                    pytest.fail(f"a send was admitted while the campaign was {state}")
            assert halted.value.state is state
        # the sends after a batch finished (late fallback, settling) may go on once the campaign completed
        after = progress.mark(
            lease, Stage.SMART, 2, in_flight, {CampaignState.RUNNING, CampaignState.COMPLETED}
        )
        async with limiter.call("smart", 10, mark=after):
            pass
        await arq_redis.delete(campaign)
        with pytest.raises(StateLost):  # a campaign gone from Redis mid-batch stops it
            async with limiter.call("smart", 10, mark=progress.mark(lease, Stage.SMART, 3, in_flight)):
                pytest.fail("a send was admitted for a campaign Redis lost")
        await limiter.close()
    assert set(await progress.chunks()) == {"smart:0", "smart:2"}  # the refused sends left no journal
    assert await arq_redis.zcard(keys.in_flight("smart")) == 0, "a refused admission holds no slot"


async def test_the_next_holder_frees_the_dead_holders_slots_and_only_those(arq_redis: ArqRedis) -> None:
    """A run entry naming another holder while the lease is free: that holder died holding the batch, and
    the run that takes the batch over frees the slots its calls still held, in the same step."""
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
            await arq_redis.hset(keys.RUNNING, run_field(CID, 5), dead)  # killed holding 5: its lease expired
            async with leases.hold(CID, 5) as successor:
                assert successor is not None
                kept = {token.decode() for token in await arq_redis.zrange(smart, 0, -1)}
                assert kept == {*left_alone, *(t for t in kept if t.startswith(alive.token + "#"))}
                assert len(kept) == len(left_alone) + 1, "the live holder's slot stays"
                assert await arq_redis.zcard(checks) == 0
                assert await arq_redis.hget(keys.RUNNING, run_field(CID, 5)) == successor.token.encode()


async def test_a_released_lease_leaves_nothing_for_the_next_holder_to_free(arq_redis: ArqRedis) -> None:
    leases = Leases(arq_redis, ttl=5)
    async with leases.hold(CID, 6) as first:
        assert first is not None
        await arq_redis.zadd(keys.in_flight("smart"), {f"{first.token}#1": 2e9})  # a call still in flight
    async with leases.hold(CID, 6) as second:
        assert second is not None
        assert await arq_redis.zcard(keys.in_flight("smart")) == 1, "an orderly release is no takeover"


async def test_the_instance_watch_notices_that_redis_lost_its_data(arq_redis: ArqRedis) -> None:
    watch = InstanceWatch(arq_redis)
    await watch.start()
    await watch.check()
    later = InstanceWatch(arq_redis)
    await later.start()
    assert later.instance == watch.instance != "", "every worker of one dataset sees one id"
    await arq_redis.flushdb()
    with pytest.raises(StateLost, match="Redis lost its data"):
        await watch.check()
