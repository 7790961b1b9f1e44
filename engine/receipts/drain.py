"""Records the receipts kept for tasks the journal has mapped since (``keys.RECEIPTS_READY``).

``finish_chunk.lua`` lists a task there when it maps one with kept receipts (``early.py``). The receipts
service drains the list on start and every ``DRAIN_SECONDS``: each task's receipts go through
``ReceiptStore.record`` like any receipt (validated, first receipt wins), then its list and its ready entry
are deleted. A crash in between repeats the recording, which changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from redis.exceptions import RedisError

from engine.receipts.early import decode
from engine.receipts.store import ReceiptStore
from engine.state.early_receipts import SCAN_COUNT, ReadyTask, drained, pending, ready_page

log = logging.getLogger(__name__)
DRAIN_SECONDS: Final = 0.5
TASKS_PER_ROUND: Final = 2000  # ready tasks recorded per round at most; the next round goes on from there


class Drainer:
    """Drains the ready hash from one background loop; its HSCAN cursor carries over between rounds."""

    def __init__(self, store: ReceiptStore) -> None:
        self.store = store
        self.drained = 0  # tasks whose kept receipts were recorded, since the start
        self._cursor = 0

    async def run(self) -> None:
        """A round at once, then one every ``DRAIN_SECONDS`` until cancelled; Redis away skips rounds."""
        while True:
            try:
                await self.round()
            except (RedisError, OSError) as exc:
                log.warning("kept receipts not drained this round: %s", exc)
            await asyncio.sleep(DRAIN_SECONDS)

    async def round(self) -> int:
        """Record the kept receipts of up to ``TASKS_PER_ROUND`` ready tasks; returns how many tasks."""
        done = 0
        while done < TASKS_PER_ROUND:
            self._cursor, tasks = await ready_page(self.store.redis, self._cursor, SCAN_COUNT)
            for task in tasks:
                await self._drain(task)
            done += len(tasks)
            if self._cursor == 0:
                break
        return done

    async def _drain(self, task: ReadyTask) -> None:
        receipts = [
            decode(raw, task.task_id, task.ref) for raw in await pending(self.store.redis, task.task_id)
        ]
        await self.store.record_all(receipts)
        await drained(self.store.redis, task.task_id)
        self.drained += 1
