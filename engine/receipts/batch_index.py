"""What the receipts service knows of a frozen batch: where each number sits, and which positions each stage
sent to. A small cache per process.

Outcomes are stored by batch position (``engine/state/delivery.py``), and a receipt is recorded only for a
number of the chunk it names (``validate.py``), so every receipt needs its number's position and the
positions of its chunk's stage. Both follow from what a batch froze before its first send: the packed
numbers (8 bytes each), the capability verdicts (a byte each) and the contact-cap decisions; a late stage's
positions are its frozen late list. The most recently used ``capacity`` batches are kept (~70 KB each for
5000 numbers).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import redis.asyncio as aioredis

from engine.state.records import Stage, Verdict
from engine.store import keys

CAPACITY: Final = 256
_LATE_INDEX: Final = np.dtype("<u2")  # the late list's packed batch indices


@dataclass(slots=True)
class BatchView:
    """A frozen batch as receipts need it; the late stages' positions are filled in once frozen."""

    ordered: np.ndarray  # the batch's numbers, sorted
    places: np.ndarray  # their positions in the batch
    stages: dict[Stage, np.ndarray] = field(default_factory=dict)  # stage -> its positions, ascending

    def positions(self, numbers: Sequence[str]) -> list[int | None]:
        """Each number's position in the batch (None: not in it)."""
        if not len(self.ordered):
            return [None] * len(numbers)
        wanted = np.array([int(n) for n in numbers], dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.ordered, wanted), len(self.ordered) - 1)
        found = self.ordered[at] == wanted
        return [
            int(self.places[a]) if hit else None for a, hit in zip(at.tolist(), found.tolist(), strict=True)
        ]


def _stage_positions(verdicts: bytes, capped: bytes) -> dict[Stage, np.ndarray]:
    """The positions the first stages sent to, as the batch run cuts them: smart the capable numbers,
    the fallback the not capable ones, neither those at a contact-frequency limit."""
    flags = np.frombuffer(verdicts, dtype=np.uint8)
    free = np.ones(len(flags), dtype=bool)
    if capped:
        free = np.frombuffer(capped[: len(flags)].ljust(len(flags), b"0"), dtype=np.uint8) != ord("1")
    smart = np.flatnonzero((flags == ord(Verdict.CAPABLE.value)) & free)
    fallback = np.flatnonzero((flags == ord(Verdict.NOT_CAPABLE.value)) & free)
    return {Stage.SMART: smart, Stage.SMS: fallback, Stage.BASIC: fallback}


class BatchIndex:
    """Frozen batches as receipts need them; a batch that does not exist (never, or purged) is None."""

    def __init__(self, redis: aioredis.Redis, capacity: int = CAPACITY) -> None:
        self.redis = redis
        self.capacity = capacity
        self._batches: OrderedDict[tuple[str, int], BatchView] = OrderedDict()

    async def view(self, cid: str, batch: int) -> BatchView | None:
        """The batch; None when it does not exist. Not cached then: a campaign submitted later under this
        id is read afresh."""
        key = (cid, batch)
        if key in self._batches:
            self._batches.move_to_end(key)
            return self._batches[key]
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.batch(cid, batch), "n")
        pipe.get(keys.verdicts(cid, batch))
        pipe.get(keys.contact_decision(cid, batch))
        packed, verdicts, capped = await pipe.execute()
        if packed is None:
            return None
        numbers = np.frombuffer(packed, dtype="<u8")
        order = np.argsort(numbers, kind="stable")
        view = BatchView(numbers[order], order)
        if verdicts is not None:  # frozen before its first send; absent, nothing was sent from it yet
            view.stages = _stage_positions(verdicts, capped or b"")
            self._batches[key] = view
            if len(self._batches) > self.capacity:
                self._batches.popitem(last=False)
        return view

    async def stage_positions(self, cid: str, batch: int, view: BatchView, stage: Stage) -> np.ndarray:
        """The positions ``stage`` of the batch sent to (empty when it sent to none)."""
        if stage not in view.stages and stage in (Stage.LATE_SMS, Stage.LATE_BASIC):
            raw: bytes | None = await self.redis.get(keys.late(cid, batch))
            if raw is None:
                return np.empty(0, dtype=np.int64)
            view.stages[stage] = np.sort(np.frombuffer(raw, dtype=_LATE_INDEX).astype(np.int64))
        return view.stages.get(stage, np.empty(0, dtype=np.int64))
