"""Receipts into Redis: per-number outcomes per batch, counted once per (campaign, channel, number); opt-outs.

Writes ``keys.delivery`` (``<channel>:<number>`` → ``{"ok", "status", "at"}``), ``keys.resolved`` and the
campaign counters ``delivered:<ch>``, ``undelivered:<ch>``, ``undelivered_status:<ch>:<status>``,
``resolved:smart`` — all in one Lua call per batch, first receipt wins (HSETNX), so a receipt the provider
posts twice counts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from engine.receipts.parse import Receipt, Reply
from engine.receipts.tally import Tally
from engine.state.tasks import chunk_refs
from engine.store import keys
from engine.store.scripts import load_script

Target = tuple[str, int, str]  # campaign id, batch, receipt kind


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording receipts did: new outcomes, repeats, and the receipts of no known chunk (yet)."""

    new: int = 0
    duplicate: int = 0
    unknown: tuple[Receipt, ...] = ()


def parse_ref(ref: str) -> tuple[str, int] | None:
    """(campaign id, batch) of a chunk reference ``<cid>:<batch>:<stage>:<k>``; None if it is not ours."""
    parts = ref.split(":")
    if len(parts) != 4 or not parts[0] or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _entry(receipt: Receipt) -> tuple[str, bytes | str, str]:
    """(hash field, value, counters) of one receipt for ``record_receipts.lua``."""
    ch = receipt.channel
    if receipt.kind == "resolve":
        return receipt.number, str(receipt.at), f"resolved:{ch}"
    if receipt.ok:
        return f"{ch}:{receipt.number}", receipt.encode(), f"delivered:{ch}"
    counters = f"undelivered:{ch} undelivered_status:{ch}:{receipt.status}"
    return f"{ch}:{receipt.number}", receipt.encode(), counters


def _hash(cid: str, batch: int, kind: str) -> str:
    return keys.resolved(cid, batch) if kind == "resolve" else keys.delivery(cid, batch)


class ReceiptStore:
    """Records receipts and opt-outs; one instance per process, its script registered once."""

    def __init__(self, redis: aioredis.Redis, tally: Tally) -> None:
        self.redis = redis
        self.tally = tally
        self._record = load_script(redis, "record_receipts")

    async def _targets(
        self, receipts: Sequence[Receipt]
    ) -> tuple[dict[Target, list[Receipt]], list[Receipt]]:
        """Receipts grouped by the batch they belong to, and those of no known chunk."""
        refs = await chunk_refs(self.redis, (r.task_id for r in receipts if not r.ref))
        groups: dict[Target, list[Receipt]] = defaultdict(list)
        unknown = []
        for receipt in receipts:
            where = parse_ref(receipt.ref or refs.get(receipt.task_id, ""))
            if where is None:
                unknown.append(receipt)
            else:
                groups[(*where, receipt.kind)].append(receipt)
        return groups, unknown

    async def record(self, receipts: Sequence[Receipt]) -> Recorded:
        """Record each receipt once per (campaign, channel, number); later repeats change nothing.

        Receipts whose task id is not mapped (yet: a receipt may overtake the journaling of its send) are
        handed back untouched for the caller to try again.
        """
        groups, unknown = await self._targets(receipts)
        new = 0
        for (cid, batch, kind), members in groups.items():
            args = [part for receipt in members for part in _entry(receipt)]
            new += int(await self._record(keys=[_hash(cid, batch, kind), keys.counters(cid)], args=args))
        result = Recorded(new, len(receipts) - len(unknown) - new, tuple(unknown))
        await self.tally.count(recorded=new, duplicate=result.duplicate)
        return result

    async def opt_out(self, replies: Iterable[Reply], words: Iterable[str]) -> int:
        """Add the senders of opt-out replies to ``kd:suppression``; returns how many were new there."""
        stop = {w.strip().casefold() for w in words}
        numbers = {r.number for r in replies if r.text.strip().casefold() in stop}
        if not numbers:
            return 0
        added = int(await self.redis.sadd(keys.SUPPRESSION, *numbers))  # type: ignore[misc]
        await self.tally.count(opt_out=added)
        return added
