"""Whether a receipt may be recorded: it names a chunk the engine journaled, its number is one that chunk
sent to, and it came on that chunk's channel.

Smart-message and basic-edition callbacks are unsigned, so the URL token is all that authenticates them,
and a request holding it could otherwise write any outcome for any number. A receipt is checked against
what the engine itself froze and journaled: the chunk reference (an SMS report's ``extend``, or the one the
task id maps to) must name a journaled chunk of a frozen batch; the route's channel must be the chunk's;
the number must be in the batch, at a position of the chunk's stage, and in chunk ``k`` of it as the batch
run cut them (chunk 0 of a stage with more than one chunk is full, so its size is every chunk's). Anything
else is rejected with a reason and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import orjson
import redis.asyncio as aioredis

from engine.receipts.batch_index import BatchIndex, BatchView
from engine.state.records import Stage, chunk_field
from engine.store import keys

_STAGES: Final = {stage.value: stage for stage in Stage}


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A parsed chunk reference ``<cid>:<batch>:<stage>:<k>``."""

    cid: str
    batch: int
    stage: Stage
    chunk: int


def parse_ref(ref: str) -> ChunkRef | None:
    """The chunk a reference names; None when it is not one of ours (campaign ids hold no ``:``)."""
    parts = ref.split(":")
    if len(parts) != 4 or not parts[0] or not parts[1].isdigit() or not parts[3].isdigit():
        return None
    stage = _STAGES.get(parts[2])
    return ChunkRef(parts[0], int(parts[1]), stage, int(parts[3])) if stage is not None else None


@dataclass(frozen=True, slots=True)
class Admitted:
    """Each number's batch position when it may be recorded (None when not), and the refusals by reason."""

    positions: list[int | None]
    rejected: Counter[str]


class ChunkCheck:
    """Checks receipts against the frozen batches and the journal; one per process (its batch cache)."""

    def __init__(self, redis: aioredis.Redis, index: BatchIndex) -> None:
        self.redis = redis
        self.index = index

    async def admit(self, ref: ChunkRef, channel: str, numbers: Sequence[str]) -> Admitted:
        """Which of ``numbers`` (of receipts naming ``ref``, all on ``channel``) may be recorded."""
        refused: list[int | None] = [None] * len(numbers)
        if ref.stage.channel != channel:
            return Admitted(refused, Counter({"channel": len(numbers)}))
        view = await self.index.view(ref.cid, ref.batch)
        if view is None:
            return Admitted(refused, Counter({"unknown_batch": len(numbers)}))
        size = await self._chunk_size(ref)
        if size is None:
            return Admitted(refused, Counter({"unknown_chunk": len(numbers)}))
        inside = await self._chunk_positions(ref, view, size)
        positions = [p if p is not None and p in inside else None for p in view.positions(numbers)]
        outside = positions.count(None)
        return Admitted(positions, Counter({"number": outside}) if outside else Counter())

    async def _chunk_size(self, ref: ChunkRef) -> int | None:
        """Numbers per chunk of the stage (chunk 0's count; with more than one chunk it is full); None when
        chunk ``ref.chunk`` is not journaled."""
        wanted = [chunk_field(ref.stage, ref.chunk), chunk_field(ref.stage, 0)]
        own, first = await self.redis.hmget(keys.journal(ref.cid, ref.batch), wanted)  # type: ignore[misc]
        if own is None or first is None:
            return None
        return int(orjson.loads(first)["numbers"]) or None

    async def _chunk_positions(self, ref: ChunkRef, view: BatchView, size: int) -> set[int]:
        """The batch positions chunk ``ref.chunk`` of its stage sent to."""
        stage = await self.index.stage_positions(ref.cid, ref.batch, view, ref.stage)
        chunk: np.ndarray = stage[ref.chunk * size : (ref.chunk + 1) * size]
        return set(chunk.tolist())
