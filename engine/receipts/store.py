"""Receipts into Redis: outcomes by batch position, counted once per (campaign, channel, number); opt-outs.

A receipt is recorded only where the engine sent (``validate.py``: a journaled chunk, its channel, one of
its numbers); anything else is ``rejected`` with a reason and writes nothing. Outcomes
go through ``engine/state/delivery.py`` (one script run per batch and channel, first receipt wins), so a
receipt the provider posts twice counts once. A receipt whose task is not mapped yet is kept in Redis with
the task (``early.py``) and recorded through this same path once it is (``drain.py``): none is dropped for
arriving early. A report for a plain-SMS chunk awaiting its reports brings its batch's settle job forward.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import redis.asyncio as aioredis

from engine.receipts.batch_index import BatchIndex
from engine.receipts.early import EarlyReceipts
from engine.receipts.parse import Receipt, ReceiptKind, Reply
from engine.receipts.tally import Tally
from engine.receipts.validate import ChunkCheck, ChunkRef, parse_ref
from engine.state import jobs
from engine.state.delivery import Entry, OutcomeWriter
from engine.state.reached import Reach
from engine.state.records import awaiting_member, chunk_field
from engine.state.tasks import chunk_refs
from engine.store import keys

RECORD_SLICE: Final = 5000  # receipts recorded at a time by ``record_all``: the loop serves others between
Target = tuple[ChunkRef, str, ReceiptKind]  # the chunk, the channel the receipt came on, the receipt kind


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording receipts did: new outcomes, repeats, receipts kept until their task is mapped, and the
    refused ones by reason (those dropped because their task's list was full are only counted)."""

    new: int = 0
    duplicate: int = 0
    pending: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def _entry(receipt: Receipt, position: int) -> Entry:
    ok = receipt.ok or receipt.kind == "resolve"  # a resolve receipt counts once whatever its status
    return position, "" if ok else receipt.status


class ReceiptStore:
    """Records receipts and opt-outs; one instance per process, its script registered once."""

    def __init__(
        self, redis: aioredis.Redis, tally: Tally, opt_out_window_days: float, pending_per_task: int
    ) -> None:
        self.redis = redis
        self.early = EarlyReceipts(redis, pending_per_task)
        self.tally = tally
        self.reach = Reach(redis, opt_out_window_days)
        self.writer = OutcomeWriter(redis)
        self.check = ChunkCheck(redis, BatchIndex(redis))

    async def _targets(
        self, receipts: Sequence[Receipt], rejected: Counter[str]
    ) -> tuple[dict[Target, list[Receipt]], dict[str, list[Receipt]]]:
        """Receipts grouped by the chunk they name, and by task those whose task id is not mapped (yet). A
        reference the report carries itself (SMS ``extend``) that is not one of ours is rejected."""
        refs = await chunk_refs(self.redis, (r.task_id for r in receipts if not r.ref))
        groups: dict[Target, list[Receipt]] = defaultdict(list)
        unmapped: dict[str, list[Receipt]] = defaultdict(list)
        for receipt in receipts:
            where = parse_ref(receipt.ref or refs.get(receipt.task_id, ""))
            if where is not None:
                groups[(where, receipt.channel, receipt.kind)].append(receipt)
            elif receipt.ref or not receipt.task_id:
                rejected["reference"] += 1
            else:
                unmapped[receipt.task_id].append(receipt)
        return groups, unmapped

    async def _keep(
        self, unmapped: dict[str, list[Receipt]], groups: dict[Target, list[Receipt]], rejected: Counter[str]
    ) -> tuple[int, int]:
        """Keep the receipts of unmapped tasks in Redis; those of a task mapped meanwhile join ``groups``.
        Returns (kept, dropped because the task's list was full)."""
        kept = await self.early.keep(unmapped)
        for task_id, ref in kept.mapped.items():
            where = parse_ref(ref)
            for receipt in unmapped[task_id]:
                if where is None:
                    rejected["reference"] += 1
                else:
                    groups[(where, receipt.channel, receipt.kind)].append(receipt)
        return kept.kept, kept.dropped

    async def _record_chunk(self, target: Target, members: list[Receipt], rejected: Counter[str]) -> int:
        """Record one chunk's admitted receipts; returns how many were new."""
        ref, channel, kind = target
        admitted = await self.check.admit(ref, channel, [r.number for r in members])
        rejected.update(admitted.rejected)
        entries = [
            _entry(receipt, position)
            for receipt, position in zip(members, admitted.positions, strict=True)
            if position is not None
        ]
        if not entries:
            return 0
        new = await self.writer.record(ref.cid, ref.batch, channel, kind, entries)
        if new < 0:  # purged between the check and the write
            rejected["unknown_batch"] += len(entries)
            return 0
        if channel == "sms":  # a recorded report proves an awaiting chunk's call landed: settle it now
            awaited = awaiting_member(ref.batch, chunk_field(ref.stage, ref.chunk))
            await jobs.settle_soon(self.redis, ref.cid, ref.batch, {awaited})
        return new

    async def record(self, receipts: Sequence[Receipt]) -> Recorded:
        """Record each receipt once per (campaign, channel, number); later repeats change nothing.

        Receipts whose task id is not mapped yet (a receipt may overtake the journaling of its send, or its
        send's answer was lost and awaits reconciliation) are kept until it is (``early.py``); a receipt that
        ``validate.ChunkCheck`` refuses is counted ``rejected:<reason>`` and writes nothing.
        """
        rejected: Counter[str] = Counter()
        groups, unmapped = await self._targets(receipts, rejected)
        pending, dropped = await self._keep(unmapped, groups, rejected) if unmapped else (0, 0)
        new = 0
        for target, members in groups.items():
            new += await self._record_chunk(target, members, rejected)
        duplicate = len(receipts) - pending - dropped - new - sum(rejected.values())
        await self.tally.count(
            recorded=new,
            duplicate=duplicate,
            pending=pending,
            pending_dropped=dropped,
            **{f"rejected:{why}": n for why, n in rejected.items()},
        )
        return Recorded(new, duplicate, pending, rejected)

    async def record_all(self, receipts: Sequence[Receipt]) -> Recorded:
        """``record`` in slices of ``RECORD_SLICE`` (a post holds up to ~45,000), the results summed."""
        total = Recorded()
        for start in range(0, len(receipts), RECORD_SLICE):
            part = await self.record(receipts[start : start + RECORD_SLICE])
            total = Recorded(
                total.new + part.new,
                total.duplicate + part.duplicate,
                total.pending + part.pending,
                total.rejected + part.rejected,
            )
        return total

    async def opt_out(self, replies: Iterable[Reply], words: Iterable[str]) -> int:
        """Add the senders of opt-out replies to ``kd:suppression`` when they were messaged (``_reached``);
        returns how many were new there. The others are counted ``rejected:opt_out``."""
        stop = {w.strip().casefold() for w in words}
        wanted = [r for r in replies if r.text.strip().casefold() in stop]
        if not wanted:
            return 0
        numbers = await self._reached(wanted)
        added = int(await self.redis.sadd(keys.SUPPRESSION, *numbers)) if numbers else 0  # type: ignore[misc]
        refused = len({r.number for r in wanted} - numbers)
        await self.tally.count(opt_out=added, **{"rejected:opt_out": refused})
        return added

    async def _reached(self, replies: Sequence[Reply]) -> set[str]:
        """The repliers this account messaged: a basic-edition reply's number must be one its task sent to
        (one check per task); an SMS uplink's (one a request) must have been submitted to within
        ``receipts.opt_out_window_days``."""
        refs = await chunk_refs(self.redis, (r.task_id for r in replies if r.task_id))
        by_chunk: dict[ChunkRef, list[str]] = defaultdict(list)
        for reply in replies:
            ref = parse_ref(refs.get(reply.task_id, "")) if reply.task_id else None
            if ref is not None:
                by_chunk[ref].append(reply.number)
        found = set()
        for ref, numbers in by_chunk.items():
            admitted = await self.check.admit(ref, "basic", numbers)
            found |= {n for n, p in zip(numbers, admitted.positions, strict=True) if p is not None}
        untasked = sorted({r.number for r in replies if not r.task_id})
        return found | await self.reach.messaged(untasked, time.time())
