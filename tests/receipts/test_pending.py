"""Receipts of not-yet-mapped tasks kept in Redis: bounded per task (the rest dropped and counted), with
the task map's lifetime, handed back at once for a task mapped meanwhile, readable again as receipts."""

from __future__ import annotations

import redis.asyncio as aioredis

from engine.receipts.early import EarlyReceipts, decode
from engine.receipts.parse import Receipt
from engine.state.tasks import TASK_TTL_SECONDS
from engine.store import keys

REF = "c:0:smart:0"


def receipt(i: int, task_id: str = "task-0") -> Receipt:
    return Receipt(
        "smart", f"135{i:08d}", i % 2 == 0, "DELIVRD" if i % 2 == 0 else "UNDELIV", task_id=task_id
    )


async def test_a_task_keeps_at_most_its_cap_the_rest_counted_dropped(redis_client: aioredis.Redis) -> None:
    early = EarlyReceipts(redis_client, per_task=3)
    first = await early.keep({"task-0": [receipt(0), receipt(1)]})
    second = await early.keep({"task-0": [receipt(2), receipt(3), receipt(4)]})
    assert (first.kept, first.dropped, second.kept, second.dropped) == (2, 0, 1, 2)
    raw = await redis_client.lrange(keys.pending_receipts("task-0"), 0, -1)  # type: ignore[misc]
    assert [decode(r, "task-0", REF).number for r in raw] == [receipt(i).number for i in range(3)]
    ttl = await redis_client.ttl(keys.pending_receipts("task-0"))
    assert 0 < ttl <= TASK_TTL_SECONDS


async def test_a_mapped_task_is_handed_back_and_nothing_is_kept(redis_client: aioredis.Redis) -> None:
    await redis_client.set(keys.task("task-1"), REF)
    early = EarlyReceipts(redis_client, per_task=10)
    kept = await early.keep({"task-1": [receipt(1, "task-1")], "task-2": [receipt(2, "task-2")]})
    assert (kept.mapped, kept.kept, kept.dropped) == ({"task-1": REF}, 1, 0)
    assert not await redis_client.exists(keys.pending_receipts("task-1"))


async def test_a_kept_receipt_reads_back_as_the_receipt_of_its_chunk(redis_client: aioredis.Redis) -> None:
    resolve = Receipt("smart", "13500000009", True, "0", task_id="task-3", kind="resolve")
    await EarlyReceipts(redis_client, per_task=10).keep({"task-3": [resolve]})
    [raw] = await redis_client.lrange(keys.pending_receipts("task-3"), 0, -1)  # type: ignore[misc]
    assert decode(raw, "task-3", REF) == Receipt(
        "smart", "13500000009", True, "0", task_id="task-3", ref=REF, kind="resolve"
    )


async def test_many_tasks_in_one_call_are_kept_apart(redis_client: aioredis.Redis) -> None:
    tasks = {f"flood-{i}": [receipt(i, f"flood-{i}")] for i in range(1200)}  # over TASKS_PER_CALL
    kept = await EarlyReceipts(redis_client, per_task=10).keep(tasks)
    assert (kept.kept, kept.dropped, kept.mapped) == (1200, 0, {})
    assert await redis_client.llen(keys.pending_receipts("flood-1199")) == 1  # type: ignore[misc]
