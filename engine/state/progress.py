"""Persisted progress: the per-chunk journal, campaign counters and batch completion.

Progress only advances after a confirmed provider answer: a chunk is journaled ``in_flight`` before its call
and ``done``/``failed`` after, in one Lua script together with its counters, so a crash at any point leaves
either an ``in_flight`` chunk (to reconcile) or a final one (to skip) — never half-counted numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final, NoReturn

import orjson
import redis.asyncio as aioredis

from engine.errors import Halt, StateError, StateLost
from engine.state.lease import Lease
from engine.state.records import (
    ChunkRecord,
    ChunkState,
    Stage,
    awaiting_member,
    chunk_field,
    pack_indices,
    unpack_indices,
)
from engine.state.tasks import TASK_TTL_SECONDS
from engine.store import keys
from engine.store.scripts import Scripts
from engine.types import CampaignState

# The send timeline: accepted numbers per channel per 10-second bucket, fine enough to show a 500/s peak
# as 500/s. A hash per campaign of one field per channel and bucket sent in (~2,000 fields for a 10M
# campaign at 1,000/s); it expires this long after its last write, so it never outlives its campaign.
TIMELINE_STEP_SECONDS: Final = 10
TIMELINE_TTL_SECONDS: Final = 35 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Mark:
    """A journal entry that the admission of a call writes in its own script run, so a journaled call
    costs no round trip of its own (the dispatcher's in-flight mark: :meth:`Progress.mark` makes it, the
    limiter's ``rate.lua`` admit writes it).

    ``entry()`` is stored at ``field`` of hash ``journal`` only while ``lease_key`` holds ``token``, the
    field holds no final record and the campaign's hash (``campaign``) has one of the ``sendable`` states
    (space-separated); otherwise nothing is admitted and ``refused("lease" | "final" | "halt", state)``
    raises. The state is read in the admission itself, so no call leaves after a pause or cancel took
    effect in Redis, whatever a worker's cached copy of the state still says (``control.StateView``).
    """

    lease_key: str
    token: str
    journal: str
    field: str
    entry: Callable[[], bytes]
    refused: Callable[[str, str], NoReturn]
    campaign: str
    sendable: str


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one number was not sent on a channel: an outcome reason and the provider's code, if any."""

    channel: str
    reason: str
    code: str = ""

    def encode(self) -> bytes:
        return orjson.dumps({"channel": self.channel, "reason": self.reason, "code": self.code})


class Progress:
    """Journal and counters of campaign ``cid``; one instance per batch run."""

    def __init__(self, redis: aioredis.Redis, scripts: Scripts, cid: str, batch: int) -> None:
        self.redis = redis
        self.scripts = scripts
        self.cid = cid
        self.batch = batch
        self._journal = keys.journal(cid, batch)

    async def chunks(self) -> dict[str, ChunkRecord]:
        """Every journaled chunk of the batch, by field (``smart:3``)."""
        raw: dict[bytes, bytes] = await self.redis.hgetall(self._journal)  # type: ignore[misc]
        return {k.decode(): ChunkRecord.decode(v) for k, v in raw.items()}

    async def in_flight(self, lease: Lease, stage: Stage, chunk: int, record: ChunkRecord) -> None:
        """Journal a call as in flight, fenced by the batch lease (a call's first mark is made by its
        admission: :meth:`mark`; this one re-marks it, e.g. as settled after an answered failure).

        Raises LeaseLost when this worker no longer holds the batch (a successor owns it now), StateError
        when the chunk is already final.
        """
        field = chunk_field(stage, chunk)
        marked = await self.scripts.mark_in_flight(
            keys=[lease.key, self._journal], args=[lease.token, field, record.encode()]
        )
        if marked != 1:
            self._refused(lease, field, "lease" if marked == 0 else "final")

    async def await_receipts(
        self, lease: Lease, stage: Stage, chunk: int, record: ChunkRecord, indices: Sequence[int]
    ) -> None:
        """Journal a plain-SMS call whose answer was lost as awaiting its status reports until
        ``record.deadline``, listed for the settle job (``keys.awaiting``); fenced like :meth:`in_flight`."""
        field = chunk_field(stage, chunk)
        names = [lease.key, self._journal, keys.awaiting(self.cid), keys.awaiting_indices(self.cid)]
        marked = await self.scripts.await_receipts(
            keys=[*names, keys.counters(self.cid)],
            args=[
                lease.token,
                field,
                record.encode(),
                awaiting_member(self.batch, field),
                record.deadline,
                pack_indices(indices),
                record.numbers,
            ],
        )
        if marked != 1:
            self._refused(lease, field, "lease" if marked == 0 else "final")

    def mark(
        self,
        lease: Lease,
        stage: Stage,
        chunk: int,
        record: Callable[[], ChunkRecord],
        sendable: Collection[CampaignState] = (CampaignState.RUNNING,),
    ) -> Mark:
        """The in-flight mark that the admission of a chunk's call writes (:class:`Mark`), fenced like
        :meth:`in_flight` and by the campaign's state (one of ``sendable``); ``record`` is called at each
        admission attempt."""
        field = chunk_field(stage, chunk)
        return Mark(
            lease.key,
            lease.token,
            self._journal,
            field,
            lambda: record().encode(),
            partial(self._refused, lease, field),
            keys.campaign(self.cid),
            " ".join(sorted(state.value for state in sendable)),
        )

    def _refused(self, lease: Lease, field: str, why: str, state: str = "") -> NoReturn:
        if why == "lease":
            lease.lost.set()
            lease.check()
        if why == "halt":
            if not state:
                raise StateLost(f"campaign {self.cid}: state vanished from Redis mid-batch; stopping")
            raise Halt(self.cid, CampaignState(state))
        raise StateError(f"campaign {self.cid}: {field} is already final")

    async def finish(
        self,
        stage: Stage,
        chunk: int,
        record: ChunkRecord,
        accepted: int,
        failures: Mapping[str, Failure],
    ) -> bool:
        """Record a confirmed outcome and its counters atomically; False when already recorded.

        A chunk that awaited its status reports leaves the awaiting set in the same step. The provider's
        task id is mapped to the chunk in it too (smart and basic-edition receipts name only the task), and a
        task with receipts that came before it was mapped is listed for the receipts service to record them.
        """
        field = chunk_field(stage, chunk)
        args: list[str | bytes | int] = [
            field,
            record.encode(),
            stage.channel,
            accepted,
            int(time.time()),
            record.ref,
            TASK_TTL_SECONDS,
            TIMELINE_STEP_SECONDS,
            TIMELINE_TTL_SECONDS,
            awaiting_member(self.batch, field),
            record.numbers,
            record.task_id,
        ]
        for number, failure in failures.items():
            args.extend((number, failure.encode()))
        names = [
            self._journal,
            keys.counters(self.cid),
            keys.failed(self.cid),
            keys.timeline(self.cid),
            keys.awaiting(self.cid),
            keys.awaiting_indices(self.cid),
        ]
        if record.task_id:
            names += [
                keys.task(record.task_id),
                keys.pending_receipts(record.task_id),
                keys.RECEIPTS_READY,
            ]
        done = await self.scripts.finish_chunk(keys=names, args=args)
        return bool(done)

    async def finish_batch(self, skipped: int) -> CampaignState | None:
        """Mark the batch finished; completes the campaign when it was the last. Returns the state, or None
        when the journal holds a chunk in flight (Redis lost its end: the batch is gone through again)."""
        state = await self.scripts.finish_batch(
            keys=[
                keys.batches_done(self.cid),
                keys.campaign(self.cid),
                keys.counters(self.cid),
                keys.awaiting(self.cid),
                self._journal,
            ],
            args=[self.batch, skipped, time.time()],
        )
        text = state.decode() if isinstance(state, bytes) else str(state)
        return None if text == ChunkState.IN_FLIGHT.value else CampaignState(text)


async def counters(redis: aioredis.Redis, cid: str) -> dict[str, int]:
    """All counters of a campaign as ints."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.counters(cid))  # type: ignore[misc]
    return {k.decode(): int(v) for k, v in raw.items()}


async def unfinished(redis: aioredis.Redis, cid: str, total: int) -> list[int]:
    """Batches of a campaign not yet finished."""
    done: set[bytes] = await redis.smembers(keys.batches_done(cid))  # type: ignore[misc]
    finished = {int(d) for d in done}
    return [b for b in range(total) if b not in finished]


async def open_chunks(redis: aioredis.Redis, cid: str, batches: int) -> int:
    """How many chunks of the campaign are journaled ``in_flight`` right now.

    Finished batches cannot hold one, so only the journals of unfinished batches are read, in one round trip.
    """
    pipe = redis.pipeline(transaction=False)
    for batch in await unfinished(redis, cid, batches):
        pipe.hvals(keys.journal(cid, batch))
    journals: list[list[bytes]] = await pipe.execute()
    return sum(
        ChunkRecord.decode(value).state is ChunkState.IN_FLIGHT for values in journals for value in values
    )


async def awaiting(redis: aioredis.Redis, cid: str, batch: int) -> dict[str, tuple[float, list[int]]]:
    """The chunks of batch ``batch`` awaiting their status reports: field -> (due, batch indices)."""
    head = awaiting_member(batch, "")
    members: list[tuple[bytes, float]] = await redis.zrange(keys.awaiting(cid), 0, -1, withscores=True)
    mine = [(member.decode(), due) for member, due in members if member.decode().startswith(head)]
    if not mine:
        return {}
    packed: list[bytes | None] = await redis.hmget(  # type: ignore[misc]
        keys.awaiting_indices(cid), [member for member, _ in mine]
    )
    return {
        member.removeprefix(head): (due, unpack_indices(raw or b""))
        for (member, due), raw in zip(mine, packed, strict=True)
    }
