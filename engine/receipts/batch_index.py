"""Where a number sits in its frozen batch, for receipts that name only the number: a small cache per process.

Outcomes are stored by batch position (``engine/state/delivery.py``), and a receipt for a number that is
not in the batch its reference names must be refused, so every receipt needs its number's position. A batch
is frozen at submission: its packed numbers (8 bytes each) are read once, sorted, and searched; the most
recently used ``capacity`` batches are kept (~60 KB each for 5000 numbers).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import numpy as np
import redis.asyncio as aioredis

from engine.store import keys

CAPACITY: Final = 256
Sorted = tuple[np.ndarray, np.ndarray]  # the batch's numbers sorted, and their positions


class BatchIndex:
    """Positions of numbers in frozen batches; a batch that does not exist (never, or purged) is None."""

    def __init__(self, redis: aioredis.Redis, capacity: int = CAPACITY) -> None:
        self.redis = redis
        self.capacity = capacity
        self._batches: OrderedDict[tuple[str, int], Sorted] = OrderedDict()

    async def positions(self, cid: str, batch: int, numbers: Sequence[str]) -> list[int | None] | None:
        """Each number's position in the batch (None: not in it); None when the batch does not exist."""
        index = await self._load(cid, batch)
        if index is None:
            return None
        ordered, places = index
        if not len(ordered):
            return [None] * len(numbers)
        wanted = np.array([int(n) for n in numbers], dtype=np.uint64)
        at = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
        found = ordered[at] == wanted
        return [int(places[a]) if hit else None for a, hit in zip(at.tolist(), found.tolist(), strict=True)]

    async def _load(self, cid: str, batch: int) -> Sorted | None:
        key = (cid, batch)
        if key in self._batches:
            self._batches.move_to_end(key)
            return self._batches[key]
        packed: bytes | None = await self.redis.hget(keys.batch(cid, batch), "n")  # type: ignore[misc]
        if packed is None:
            return None  # not cached: a campaign submitted later under this id is read afresh
        numbers = np.frombuffer(packed, dtype="<u8")
        order = np.argsort(numbers, kind="stable")
        self._batches[key] = (numbers[order], order)
        if len(self._batches) > self.capacity:
            self._batches.popitem(last=False)
        return self._batches[key]
