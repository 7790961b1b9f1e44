"""Retention: a campaign's per-number data expires once it ended and its receipt window closed.

What a campaign keeps per number — frozen batches, journal, verdicts, contact decisions, delivery outcomes,
failed numbers, late lists — is needed while it runs and while receipts can still come (the provider posts
them within 72 h; ``RECEIPT_WINDOW`` adds a day). After that and ``retention.days`` more (the campaign's
own, recorded at submission) it is deleted: every such key gets that expiry when the campaign ends
(``expire_detail``), keys the receipts service makes later take their batch's, and ``sweep`` finishes the
purge (keys made without an expiry, the trial numbers in the spec) once the time has come. The summary
stays: the record, the counters, the send timeline (expires on its own), the finished-batch set — small and
numbers-free.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.errors import StateError
from engine.state.tasks import TASK_TTL_SECONDS
from engine.store import keys
from engine.types import TERMINAL, CampaignState

RECEIPT_WINDOW: Final = TASK_TTL_SECONDS  # receipts come within 72 h of a send; a day of slack on top
DAY: Final = 86400
DEFAULT_DAYS: Final = 30.0
CHUNK: Final = 2000  # keys per pipeline round trip
CHANNELS: Final = ("smart", "sms", "basic")


def detail_keys(cid: str, batches: int) -> Iterator[str]:
    """Every key of a campaign that holds per-number (or per-chunk) data. Leases and the submission claim
    expire on their own within seconds or minutes: an expiry set here would outlive a crashed holder."""
    yield from (keys.failed(cid), keys.statuses(cid), keys.backlog(cid), keys.dispensed(cid))
    for batch in range(batches):
        yield from (keys.batch(cid, batch), keys.journal(cid, batch), keys.verdicts(cid, batch))
        yield from (keys.contact_decision(cid, batch), keys.resolved(cid, batch), keys.late(cid, batch))
        yield from (keys.delivery(cid, batch, channel) for channel in CHANNELS)


@dataclass(frozen=True, slots=True)
class Retention:
    """A campaign's retention as its record states it."""

    cid: str
    state: CampaignState
    batches: int
    ended_at: float  # 0 while it runs
    days: float
    purged_at: float

    @property
    def purge_at(self) -> float:
        """When its per-number data goes (0 while it runs)."""
        return self.ended_at + RECEIPT_WINDOW + self.days * DAY if self.ended_at else 0.0

    def purged(self, now: float) -> bool:
        """Whether the per-number data is gone (purged, or expired) at ``now``."""
        return bool(self.purged_at) or 0 < self.purge_at <= now


_FIELDS: Final = ["state", "batches", "updated_at", "retention_days", "purged_at"]


def _decode(cid: str, raw: list[bytes | None]) -> Retention | None:
    if raw[0] is None:
        return None
    state = CampaignState(raw[0].decode())
    number = [float(v) if v is not None else 0.0 for v in raw[1:]]
    days = number[2] if raw[3] is not None else DEFAULT_DAYS
    ended = number[1] if state in TERMINAL else 0.0
    return Retention(cid, state, int(number[0]), ended, days, number[3])


async def retention_of(redis: aioredis.Redis, cid: str) -> Retention | None:
    """The campaign's retention; None for an unknown campaign."""
    raw: list[bytes | None] = await redis.hmget(keys.campaign(cid), _FIELDS)  # type: ignore[misc]
    return _decode(cid, raw)


async def expire_detail(redis: aioredis.Redis, cid: str) -> float:
    """Give every per-number key of an ended campaign its expiry; returns when (0: it has not ended).

    Idempotent: the expiry is absolute, from the end the record states.
    """
    kept = await retention_of(redis, cid)
    if kept is None or not kept.ended_at:
        return 0.0
    at = int(kept.purge_at)
    names = list(detail_keys(cid, kept.batches))
    for start in range(0, len(names), CHUNK):
        pipe = redis.pipeline(transaction=False)
        for name in names[start : start + CHUNK]:
            pipe.expireat(name, at)
        await pipe.execute()
    await redis.hset(keys.campaign(cid), "purge_at", str(at))  # type: ignore[misc]
    return float(at)


async def purge(redis: aioredis.Redis, cid: str, now: float | None = None) -> int:
    """Delete an ended campaign's per-number data now, keep its summary; returns the keys deleted.

    Raises StateError for an unknown campaign or one that has not ended.
    """
    kept = await retention_of(redis, cid)
    if kept is None:
        raise StateError(f"unknown campaign {cid!r}")
    if not kept.ended_at:
        raise StateError(f"campaign {cid} is {kept.state.value}; only an ended campaign can be purged")
    names = list(detail_keys(cid, kept.batches))
    deleted = 0
    for start in range(0, len(names), CHUNK):
        deleted += int(await redis.unlink(*names[start : start + CHUNK]))
    stamp = time.time() if now is None else now
    spec = _without_numbers(await redis.hget(keys.campaign(cid), "spec"))  # type: ignore[misc]
    await redis.hset(keys.campaign(cid), mapping={"spec": spec, "purged_at": stamp})  # type: ignore[misc]
    return deleted


def _without_numbers(raw: bytes) -> bytes:
    """The stored spec without its trial numbers, the only numbers a spec holds."""
    spec = orjson.loads(raw)
    spec.get("schedule", {})["trial_numbers"] = []
    return orjson.dumps(spec)


async def sweep(redis: aioredis.Redis, now: float, older_than_days: float | None = None) -> list[str]:
    """Purge every ended campaign whose retention is over (or, given ``older_than_days``, that ended
    longer ago than that); returns their ids. Run by the workers now and then, and by ``purge``."""
    cids = [raw.decode() for raw in await redis.zrange(keys.CAMPAIGNS, 0, -1)]
    pipe = redis.pipeline(transaction=False)
    for cid in cids:
        pipe.hmget(keys.campaign(cid), _FIELDS)
    found = [_decode(cid, raw) for cid, raw in zip(cids, await pipe.execute(), strict=True)]
    due = [
        kept.cid
        for kept in found
        if kept is not None
        and kept.ended_at
        and not kept.purged_at
        and (
            kept.purge_at <= now if older_than_days is None else kept.ended_at <= now - older_than_days * DAY
        )
    ]
    for cid in due:
        await purge(redis, cid, now)
    return due
