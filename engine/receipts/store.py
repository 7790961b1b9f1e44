"""Receipts into Redis: per-number outcomes per batch, counted once per (campaign, channel, number); opt-outs.

Writes ``keys.delivery`` (``<channel>:<number>`` → ``{"ok", "status", "at"}``), ``keys.resolved`` and the
campaign counters ``delivered:<ch>``, ``undelivered:<ch>``, ``undelivered_status:<ch>:<status>``,
``resolved:smart`` — all in one Lua call per batch, first receipt wins (HSETNX), so a receipt the provider
posts twice counts once. A receipt that names a task not mapped to a chunk yet (its send's answer is still
being reconciled, or was lost with a worker) is kept in Redis with the task (``keys.pending_receipts``) and
recorded by the journal step that maps it, however late that comes: none is dropped for arriving early.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from engine.phones import mask
from engine.receipts.parse import Receipt, Reply
from engine.state import jobs
from engine.state.records import awaiting_member
from engine.state.tasks import TASK_TTL_SECONDS, chunk_refs
from engine.store import keys
from engine.store.scripts import load_script

log = logging.getLogger(__name__)
Target = tuple[str, int, str]  # campaign id, batch, receipt kind


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording receipts did: new outcomes, repeats, and receipts kept until their task is mapped."""

    new: int = 0
    duplicate: int = 0
    pending: int = 0
    unmatched: int = 0  # a reference that is not ours


def parse_ref(ref: str) -> tuple[str, int] | None:
    """(campaign id, batch) of a chunk reference ``<cid>:<batch>:<stage>:<k>``; None if it is not ours."""
    parts = ref.split(":")
    if len(parts) != 4 or not parts[0] or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _pending(receipt: Receipt) -> bytes:
    """A receipt kept until its task is mapped: what ``finish_chunk.lua`` records then."""
    field, value, counters = _entry(receipt)
    text = value.decode() if isinstance(value, bytes) else value
    return orjson.dumps([receipt.kind, field, text, counters])


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

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._record = load_script(redis, "record_receipts")
        self._pend = load_script(redis, "pend_receipts")

    async def _targets(self, receipts: Sequence[Receipt]) -> tuple[dict[Target, list[Receipt]], int, int]:
        """Receipts grouped by the batch they belong to, how many were kept in Redis with their task (not
        mapped yet), and how many carry a reference that is not ours."""
        refs = await chunk_refs(self.redis, (r.task_id for r in receipts if not r.ref))
        groups: dict[Target, list[Receipt]] = defaultdict(list)
        unmapped: dict[str, list[Receipt]] = defaultdict(list)
        unmatched = 0
        for receipt in receipts:
            ref = receipt.ref or refs.get(receipt.task_id, "")
            if not ref and receipt.task_id:
                unmapped[receipt.task_id].append(receipt)
            elif (where := parse_ref(ref)) is not None:
                groups[(*where, receipt.kind)].append(receipt)
            else:
                unmatched += 1
                log.info("receipt for %s matches no chunk (reference %r)", mask(receipt.number), ref)
        pending = 0
        for task_id, members in unmapped.items():
            # atomically: recorded now if the task was mapped meanwhile, else kept for finish_chunk.lua
            ref = await self._pend(
                keys=[keys.task(task_id), keys.pending_receipts(task_id)],
                args=[TASK_TTL_SECONDS, *(_pending(r) for r in members)],
            )
            if ref is not None and (where := parse_ref(ref.decode())) is not None:
                for receipt in members:
                    groups[(*where, receipt.kind)].append(receipt)
            else:
                pending += len(members)
        return groups, pending, unmatched

    async def record(self, receipts: Sequence[Receipt]) -> Recorded:
        """Record each receipt once per (campaign, channel, number); later repeats change nothing.

        Receipts whose task id is not mapped yet (a receipt may overtake the journaling of its send, or its
        send's answer was lost and awaits reconciliation) are kept until it is. A report for a plain-SMS
        chunk awaiting its reports brings its batch's settle job forward.
        """
        groups, pending, unmatched = await self._targets(receipts)
        new = 0
        for (cid, batch, kind), members in groups.items():
            args = [part for receipt in members for part in _entry(receipt)]
            new += int(await self._record(keys=[_hash(cid, batch, kind), keys.counters(cid)], args=args))
            awaited = {awaiting_member(batch, r.ref.split(":", 2)[2]) for r in members if r.channel == "sms"}
            if awaited:
                await jobs.settle_soon(self.redis, cid, batch, awaited)
        result = Recorded(new, len(receipts) - pending - unmatched - new, pending, unmatched)
        await self.count(recorded=new, duplicate=result.duplicate, pending=pending, unmatched=unmatched)
        return result

    async def opt_out(self, replies: Iterable[Reply], words: Iterable[str]) -> int:
        """Add the senders of opt-out replies to ``kd:suppression``; returns how many were new there."""
        stop = {w.strip().casefold() for w in words}
        numbers = {r.number for r in replies if r.text.strip().casefold() in stop}
        if not numbers:
            return 0
        added = int(await self.redis.sadd(keys.SUPPRESSION, *numbers))  # type: ignore[misc]
        await self.count(opt_out=added)
        log.info(
            "opt-out: %d number(s) added to suppression (%s)", added, ", ".join(mask(n) for n in numbers)
        )
        return added

    async def count(self, **fields: int) -> None:
        """Add to the service's counters for operators (``kd:receipts:stats``): received, unmatched, ..."""
        pipe = self.redis.pipeline(transaction=False)
        for name, value in fields.items():
            if value:
                pipe.hincrby(keys.RECEIPT_STATS, name, value)
        await pipe.execute()
