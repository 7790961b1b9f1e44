"""Receipts that came before their task was mapped: the per-task lists and the ready hash in Redis.

The receipts service keeps such receipts in ``keys.pending_receipts`` (``pend_receipts.lua``); when the
journal maps the task (``finish_chunk.lua``) a non-empty list puts the task in ``keys.RECEIPTS_READY``
(task id -> ``"<chunk ref> <unix s>"``), which the service drains (``engine/receipts/early.py``). Late
fallback reads it too: a batch with a ready task has reports not recorded yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from engine.store import keys

SCAN_COUNT = 500  # ready entries asked for per HSCAN call


@dataclass(frozen=True, slots=True)
class ReadyTask:
    """A mapped task whose early receipts wait: its chunk reference and when it was mapped (unix s)."""

    task_id: str
    ref: str
    since: float


def _ready(task_id: bytes, value: bytes) -> ReadyTask:
    ref, _, since = value.decode().rpartition(" ")
    return ReadyTask(task_id.decode(), ref, float(since))


async def ready_page(redis: aioredis.Redis, cursor: int, count: int) -> tuple[int, list[ReadyTask]]:
    """One HSCAN step of the ready hash: (next cursor, 0 when the scan is complete; the tasks found)."""
    cursor, found = await redis.hscan(keys.RECEIPTS_READY, cursor, count=count)
    return int(cursor), [_ready(task_id, value) for task_id, value in found.items()]


async def waiting_since(redis: aioredis.Redis, cid: str, batch: int) -> float | None:
    """When the oldest ready task of batch ``batch`` was mapped; None when none of its tasks waits.

    The hash is drained every second while a receipts service runs, so a full scan reads a few entries.
    """
    prefix = f"{cid}:{batch}:"
    oldest: float | None = None
    async for task_id, value in redis.hscan_iter(keys.RECEIPTS_READY, count=SCAN_COUNT):
        task = _ready(task_id, value)
        if task.ref.startswith(prefix) and (oldest is None or task.since < oldest):
            oldest = task.since
    return oldest


async def pending(redis: aioredis.Redis, task_id: str) -> list[bytes]:
    """The receipts kept for ``task_id`` (encoded by ``engine/receipts/early.py``)."""
    return await redis.lrange(keys.pending_receipts(task_id), 0, -1)  # type: ignore[misc,no-any-return]


async def drained(redis: aioredis.Redis, task_id: str) -> None:
    """The task's kept receipts are recorded: its list goes, then its ready entry (a crash in between
    leaves an entry with nothing to record)."""
    await redis.delete(keys.pending_receipts(task_id))
    await redis.hdel(keys.RECEIPTS_READY, task_id)  # type: ignore[misc]
