"""Receipts into Redis: outcomes by batch position, counted once per (campaign, channel, number); opt-outs.

A receipt is recorded only where the engine sent: its reference (or its task id's) names a frozen batch,
and its number is in that batch; anything else is ``rejected`` with a reason and writes nothing. Outcomes
go through ``engine/state/delivery.py`` (one script run per batch and channel, first receipt wins), so a
receipt the provider posts twice counts once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from engine.receipts.batch_index import BatchIndex
from engine.receipts.parse import Receipt, Reply
from engine.receipts.tally import Tally
from engine.state.delivery import Entry, OutcomeWriter
from engine.state.tasks import chunk_refs
from engine.store import keys

Target = tuple[str, int, str, str]  # campaign id, batch, channel, receipt kind


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording receipts did: new outcomes, repeats, the receipts of no known chunk (yet), and the
    refused ones by reason."""

    new: int = 0
    duplicate: int = 0
    unknown: tuple[Receipt, ...] = ()
    rejected: Counter[str] = field(default_factory=Counter)


def parse_ref(ref: str) -> tuple[str, int] | None:
    """(campaign id, batch) of a chunk reference ``<cid>:<batch>:<stage>:<k>``; None if it is not ours."""
    parts = ref.split(":")
    if len(parts) != 4 or not parts[0] or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _entry(receipt: Receipt, position: int) -> Entry:
    ok = receipt.ok or receipt.kind == "resolve"  # a resolve receipt counts once whatever its status
    return position, "" if ok else receipt.status


class ReceiptStore:
    """Records receipts and opt-outs; one instance per process, its script registered once."""

    def __init__(self, redis: aioredis.Redis, tally: Tally) -> None:
        self.redis = redis
        self.tally = tally
        self.writer = OutcomeWriter(redis)
        self.index = BatchIndex(redis)

    async def _targets(
        self, receipts: Sequence[Receipt]
    ) -> tuple[dict[Target, list[Receipt]], list[Receipt]]:
        """Receipts grouped by the batch and channel they name, and those of no known chunk."""
        refs = await chunk_refs(self.redis, (r.task_id for r in receipts if not r.ref))
        groups: dict[Target, list[Receipt]] = defaultdict(list)
        unknown = []
        for receipt in receipts:
            where = parse_ref(receipt.ref or refs.get(receipt.task_id, ""))
            if where is None:
                unknown.append(receipt)
            else:
                groups[(*where, receipt.channel, receipt.kind)].append(receipt)
        return groups, unknown

    async def _record_group(self, target: Target, members: list[Receipt], rejected: Counter[str]) -> int:
        """Record one batch's receipts on one channel; returns how many were new."""
        cid, batch, channel, kind = target
        positions = await self.index.positions(cid, batch, [r.number for r in members])
        if positions is None:
            rejected["unknown_batch"] += len(members)
            return 0
        entries = [_entry(r, p) for r, p in zip(members, positions, strict=True) if p is not None]
        rejected["number"] += len(members) - len(entries)
        if not entries:
            return 0
        new = await self.writer.record(
            cid, batch, channel, "resolve" if kind == "resolve" else "delivery", entries
        )
        if new < 0:  # purged between the look-up and the write
            rejected["unknown_batch"] += len(entries)
            return 0
        return new

    async def record(self, receipts: Sequence[Receipt]) -> Recorded:
        """Record each receipt once per (campaign, channel, number); later repeats change nothing.

        Receipts whose task id is not mapped (yet: a receipt may overtake the journaling of its send) are
        handed back untouched for the caller to try again; receipts of a batch that does not exist or of a
        number not in it are rejected, counted ``rejected:<reason>``.
        """
        groups, unknown = await self._targets(receipts)
        rejected: Counter[str] = Counter()
        new = 0
        for target, members in groups.items():
            new += await self._record_group(target, members, rejected)
        duplicate = len(receipts) - len(unknown) - new - sum(rejected.values())
        await self.tally.count(
            recorded=new, duplicate=duplicate, **{f"rejected:{why}": n for why, n in rejected.items()}
        )
        return Recorded(new, duplicate, tuple(unknown), rejected)

    async def opt_out(self, replies: Iterable[Reply], words: Iterable[str]) -> int:
        """Add the senders of opt-out replies to ``kd:suppression``; returns how many were new there."""
        stop = {w.strip().casefold() for w in words}
        numbers = {r.number for r in replies if r.text.strip().casefold() in stop}
        if not numbers:
            return 0
        added = int(await self.redis.sadd(keys.SUPPRESSION, *numbers))  # type: ignore[misc]
        await self.tally.count(opt_out=added)
        return added
