"""Failed numbers of a campaign, batch by batch: refused at send time or reported undelivered.

Both sources are read per frozen batch (the batch's numbers, one HMGET of the failed-numbers hash, the
batch's status-report hash), so memory stays at one batch however many numbers failed, rows come out in
the recipient file's order, and each row knows its batch position (the resend reads its parameters there).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import orjson
import redis.asyncio as aioredis

from engine.errors import StateError
from engine.reports.summary import CHANNELS
from engine.state import campaigns, delivery, retention
from engine.state.batches import Batch, load_batch
from engine.state.progress import counters
from engine.store import keys

UNDELIVERED: Final = "undelivered"  # the reason of a number whose status report said not delivered
Stage = Literal["send", "delivery"]


@dataclass(frozen=True, slots=True)
class FailedNumber:
    """One number not delivered on one channel; ``code`` is the provider code or the receipt status."""

    number: str
    channel: str
    stage: Stage
    reason: str
    code: str
    index: int  # position in its batch
    delivered: bool = False  # a status report said delivered on another channel: never resent


@dataclass(frozen=True, slots=True)
class FailureFilter:
    """Which failures to take: empty ``reasons`` / ``channel`` None mean all."""

    reasons: frozenset[str] = frozenset()
    channel: str | None = None

    def __call__(self, failure: FailedNumber) -> bool:
        reason_ok = not self.reasons or failure.reason in self.reasons
        return reason_ok and self.channel in (None, failure.channel)

    def describe(self) -> str:
        """The filter in words for messages ("" when it takes everything)."""
        parts = [f"reason {', '.join(sorted(self.reasons))}"] if self.reasons else []
        parts += [f"channel {self.channel}"] if self.channel else []
        return " with " + " and ".join(parts) if parts else ""


EVERY: Final = FailureFilter()


async def failed_batches(
    redis: aioredis.Redis, cid: str, columns: Collection[str] = (), wanted: FailureFilter = EVERY
) -> AsyncIterator[tuple[Batch, list[FailedNumber]]]:
    """Yield each batch holding a wanted failure with those failures in recipient order.

    ``columns`` are the parameter columns loaded with each batch. Raises StateError for an unknown
    campaign, StateLost when a batch is gone from Redis.
    """
    record = await campaigns.load(redis, cid)
    kept = await retention.retention_of(redis, cid)
    if kept is not None and kept.purged(time.time()):
        raise StateError(
            f"campaign {cid}: its per-number detail was purged (retention); only the summary remains"
        )
    c = await counters(redis, cid)
    sent_failures = c.get("failed", 0) > 0
    receipts = any(k.startswith(f"{UNDELIVERED}:") and v for k, v in c.items())
    if not (sent_failures or receipts):
        return
    for number in range(record.batches):
        batch = await load_batch(redis, cid, number, list(columns))
        at_send: list[bytes | None] = [None] * len(batch.numbers)
        if sent_failures:
            at_send = await _send_failures(redis, cid, batch)
        undelivered, reached = await _undelivered(redis, cid, number) if receipts else ({}, set())
        rows = [row for row in _rows(batch, at_send, undelivered, reached) if wanted(row)]
        if rows:
            yield batch, rows


async def _send_failures(redis: aioredis.Redis, cid: str, batch: Batch) -> list[bytes | None]:
    if not batch.numbers:
        return []
    found: list[bytes | None] = await redis.hmget(keys.failed(cid), batch.numbers)  # type: ignore[misc]
    return found


async def _undelivered(
    redis: aioredis.Redis, cid: str, batch: int
) -> tuple[dict[int, list[tuple[str, str]]], set[int]]:
    """Batch position -> [(channel, status)] of the batch's negative status reports, and the positions
    reported delivered on some channel."""
    names = await delivery.status_names(redis, cid)
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    reached: set[int] = set()
    for channel in CHANNELS:
        raw = await delivery.outcomes(redis, cid, batch, channel)
        for position, status in delivery.undelivered(raw, names).items():
            out[position].append((channel, status))
        reached.update(delivery.delivered_positions(raw))
    return out, reached


def _rows(
    batch: Batch,
    at_send: list[bytes | None],
    undelivered: Mapping[int, list[tuple[str, str]]],
    reached: Collection[int],
) -> list[FailedNumber]:
    rows: list[FailedNumber] = []
    for index, number in enumerate(batch.numbers):
        delivered = index in reached
        if (raw := at_send[index]) is not None:
            failure = orjson.loads(raw)
            reason, code = failure["reason"], failure.get("code", "")
            rows.append(FailedNumber(number, failure["channel"], "send", reason, code, index, delivered))
        for channel, status in undelivered.get(index, ()):
            rows.append(FailedNumber(number, channel, "delivery", UNDELIVERED, status, index, delivered))
    return rows
