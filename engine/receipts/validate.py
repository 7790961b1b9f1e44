"""Whether a receipt may be recorded: it names a chunk the engine journaled, its number is one that chunk
sent to, and it came on that chunk's channel.

Smart-message and basic-edition callbacks are unsigned, so the URL token is all that authenticates them,
and a request holding it could otherwise write any outcome for any number. A receipt is checked against
what the engine itself froze and journaled: the chunk reference (an SMS report's ``extend``, or the one the
task id maps to) must name a journaled chunk of a frozen batch; the route's channel must be the chunk's;
the number must be in the batch, at a position of the chunk's stage, and in chunk ``k`` of it as the batch
run cut them (every chunk before the last is full: ``k`` times chunk 0's count), and not refused by the
provider when the chunk was sent. Anything else is rejected with a reason and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.receipts.batch_index import BatchIndex, BatchView
from engine.state.records import Stage, chunk_field
from engine.store import keys

_STAGES: Final = {stage.value: stage for stage in Stage}
UNCONFIRMED: Final = (
    "unconfirmed"  # the failure reason of a call whose answer was lost (dispatch/batch_run.py)
)


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
        counts = await self._chunk_counts(ref)
        if counts is None:
            return Admitted(refused, Counter({"unknown_chunk": len(numbers)}))
        inside = await self._chunk_positions(ref, view, counts)
        positions = [p if p is not None and p in inside else None for p in view.positions(numbers)]
        rejected = Counter({"number": positions.count(None)})
        refused_at_send = await self._refused_at_send(ref.cid, channel, numbers, positions)
        positions = [None if i in refused_at_send else p for i, p in enumerate(positions)]
        rejected["failed_at_send"] = len(refused_at_send)
        return Admitted(positions, +rejected)

    async def _refused_at_send(
        self, cid: str, channel: str, numbers: Sequence[str], positions: list[int | None]
    ) -> set[int]:
        """Indices of the numbers the provider refused on ``channel`` when their chunk was sent: no receipt
        can follow. Not those failed ``unconfirmed`` (the answer was lost: a receipt may yet confirm it)."""
        wanted = [i for i, p in enumerate(positions) if p is not None]
        if not wanted:
            return set()
        found = await self.redis.hmget(keys.failed(cid), [numbers[i] for i in wanted])  # type: ignore[misc]
        refused = set()
        for i, raw in zip(wanted, found, strict=True):
            failure = orjson.loads(raw) if raw is not None else None
            if failure and failure.get("channel") == channel and failure.get("reason") != UNCONFIRMED:
                refused.add(i)
        return refused

    async def _chunk_counts(self, ref: ChunkRef) -> tuple[int, int | None] | None:
        """How many numbers chunk ``ref.chunk`` and chunk 0 of its stage hold (chunk 0's None when it is
        not journaled yet); None when chunk ``ref.chunk`` is not journaled."""
        fields = [chunk_field(ref.stage, ref.chunk), chunk_field(ref.stage, 0)]
        own, first = await self.redis.hmget(keys.journal(ref.cid, ref.batch), fields)  # type: ignore[misc]
        if own is None:
            return None
        return _count(own), _count(first) if first is not None else None

    async def _chunk_positions(
        self, ref: ChunkRef, view: BatchView, counts: tuple[int, int | None]
    ) -> set[int]:
        """The batch positions chunk ``k`` of its stage sent to: ``count`` of the stage's positions from
        ``k`` times chunk 0's count (every chunk but the last is full). Before chunk 0 is journaled
        (chunks are sent side by side) its size is unknown, and either place chunk ``k`` can be is taken:
        from ``k * count`` if it is full, or the stage's last ``count`` if it is a shorter last chunk."""
        stage = await self.index.stage_positions(ref.cid, ref.batch, view, ref.stage)
        count, first = counts
        k = ref.chunk
        starts = {k * first} if first is not None else {k * count, max(0, len(stage) - count)}
        return {int(p) for start in starts for p in stage[start : start + count]}


def _count(raw: bytes) -> int:
    return int(orjson.loads(raw)["numbers"])
