"""The journal step that maps a task lists it as ready when receipts were kept for it, and only then; late
fallback finds a batch's ready tasks; a drained task leaves both its list and its ready entry."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from engine.receipts.early import EarlyReceipts, decode
from engine.receipts.parse import Receipt
from engine.state import early_receipts
from engine.state.progress import Progress
from engine.state.records import ChunkPath, ChunkRecord, ChunkState, Stage, chunk_ref
from engine.store import keys
from engine.store.scripts import Scripts

CID = "early"


async def finish(redis: aioredis.Redis, batch: int, k: int, task_id: str) -> None:
    ref = chunk_ref(CID, batch, Stage.SMART, k)
    record = ChunkRecord(ChunkState.DONE, ref, 1, task_id, path=ChunkPath.SENT)
    assert await Progress(redis, Scripts(redis), CID, batch).finish(Stage.SMART, k, record, 1, {})


async def test_a_mapped_task_with_kept_receipts_is_ready_until_drained(redis_client: aioredis.Redis) -> None:
    before = int(time.time())
    kept = Receipt("smart", "13500000001", True, "DELIVRD", task_id="t-early")
    await EarlyReceipts(redis_client, per_task=10).keep({"t-early": [kept]})
    await finish(redis_client, 2, 0, "t-early")
    await finish(redis_client, 2, 1, "t-on-time")  # no receipt came before it: not listed
    await finish(redis_client, 5, 0, "")  # no task id (plain SMS): nothing to map

    cursor, ready = await early_receipts.ready_page(redis_client, 0, 100)
    assert cursor == 0 and [(r.task_id, r.ref) for r in ready] == [("t-early", f"{CID}:2:smart:0")]
    assert ready[0].since >= before
    assert await early_receipts.waiting_since(redis_client, CID, 2) == ready[0].since
    assert await early_receipts.waiting_since(redis_client, CID, 20) is None  # "early:2:" is no prefix of it
    [raw] = await early_receipts.pending(redis_client, "t-early")
    assert decode(raw, "t-early", ready[0].ref).number == "13500000001"

    await early_receipts.drained(redis_client, "t-early")
    assert await early_receipts.waiting_since(redis_client, CID, 2) is None
    assert not await redis_client.exists(keys.pending_receipts("t-early"), keys.RECEIPTS_READY)
