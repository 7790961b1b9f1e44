"""Receipts that overtake the journaling of their send: kept in Redis per task until the task is mapped.

A receipt that names only a task id (smart and basic edition) can come before the journal maps that task
to its chunk (the answer is written a moment after the call, or the answer was lost and is reconciled
later). Such receipts are kept with the task (``keys.pending_receipts``, ``pend_receipts.lua``, atomically
with a look at the map: a task mapped meanwhile is recorded at once), at most ``per_task`` a task, for the
task map's lifetime. Kept in Redis, they survive a restart of the receipts service; ``drain.py`` records
them through the same validation as any receipt once the journal lists the task as ready.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.receipts.parse import Receipt
from engine.state.tasks import TASK_TTL_SECONDS
from engine.store import keys
from engine.store.scripts import load_script

TASKS_PER_CALL: Final = 500  # tasks kept per script run: Redis stays responsive under a flood


def encode(receipt: Receipt) -> bytes:
    """A kept receipt: what the task id (the list's key) does not say."""
    return orjson.dumps([receipt.channel, receipt.number, receipt.ok, receipt.status, receipt.kind])


def decode(raw: bytes, task_id: str, ref: str) -> Receipt:
    """A kept receipt of ``task_id`` as the chunk ``ref`` the task was mapped to since."""
    channel, number, ok, status, kind = orjson.loads(raw)
    return Receipt(channel, number, ok, status, task_id=task_id, ref=ref, kind=kind)


@dataclass(frozen=True, slots=True)
class Kept:
    """What keeping did: the tasks mapped meanwhile (-> chunk reference), receipts kept and dropped."""

    mapped: dict[str, str]
    kept: int = 0
    dropped: int = 0


class EarlyReceipts:
    """Keeps receipts of unmapped tasks in Redis; its script registered once."""

    def __init__(self, redis: aioredis.Redis, per_task: int) -> None:
        self.per_task = per_task
        self._pend = load_script(redis, "pend_receipts")

    async def keep(self, by_task: Mapping[str, Sequence[Receipt]]) -> Kept:
        """Keep each task's receipts unless the task is mapped now (then its reference is in ``mapped``);
        a task's list holds at most ``per_task`` receipts, the rest are dropped (counted)."""
        mapped: dict[str, str] = {}
        kept = dropped = 0
        tasks = iter(by_task.items())
        while part := list(islice(tasks, TASKS_PER_CALL)):
            names: list[str] = []
            args: list[str | int | bytes] = [TASK_TTL_SECONDS, self.per_task]
            for task_id, receipts in part:
                names += [keys.task(task_id), keys.pending_receipts(task_id)]
                args += [len(receipts), *(encode(r) for r in receipts)]
            answers = await self._pend(keys=names, args=args)
            for (task_id, receipts), answer in zip(part, answers, strict=True):
                if isinstance(answer, bytes):
                    mapped[task_id] = answer.decode()
                else:
                    kept += len(receipts) - int(answer)
                    dropped += int(answer)
        return Kept(mapped, kept, dropped)
