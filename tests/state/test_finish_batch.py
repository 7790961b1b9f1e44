"""A batch is finished by its journal, not by what its run saw: one whose journal holds a chunk in flight
(its end lost in a Redis failover) is not finished, and its run goes through it again."""

from __future__ import annotations

import redis.asyncio as aioredis

from engine.state.progress import Progress
from engine.state.records import ChunkRecord, ChunkState, Stage, chunk_field, chunk_ref
from engine.store import keys
from engine.store.scripts import Scripts
from engine.types import CampaignState

CID = "finish-test"


async def test_a_batch_with_a_chunk_in_flight_is_not_finished_until_it_ends(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.hset(keys.campaign(CID), mapping={"state": "running", "batches": 1})
    progress = Progress(redis_client, Scripts(redis_client), CID, 0)
    ref = chunk_ref(CID, 0, Stage.SMART, 0)
    in_flight = ChunkRecord(ChunkState.IN_FLIGHT, ref, 1, deadline=1.0)
    await redis_client.hset(keys.journal(CID, 0), chunk_field(Stage.SMART, 0), in_flight.encode())

    assert await progress.finish_batch(0) is None  # as after a failover lost the chunk's end
    assert not await redis_client.sismember(keys.batches_done(CID), "0")

    done = ChunkRecord(ChunkState.DONE, ref, 1, task_id="t1")
    assert await progress.finish(Stage.SMART, 0, done, 1, {})  # the run went through the batch again
    assert await progress.finish_batch(0) is CampaignState.COMPLETED
