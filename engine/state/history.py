"""Campaign history: every campaign submitted, newest first, with what an operator wants at a glance; and
moving a campaign that has not started to another start time.

A row reads a few fields of the campaign hash and its counters, never the whole spec model, so listing
thousands of campaigns costs one round trip per page.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from engine.errors import StateError
from engine.store import keys
from engine.types import PRIORITIES, CampaignState

_FIELDS = ["state", "created_at", "finished_at", "updated_at", "counts", "name", "spec", "reason"]
_SENT = ["sent:smart", "sent:sms", "sent:basic", "failed"]


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One campaign in the history: who, which class, how far, since when."""

    cid: str
    name: str
    priority: str
    state: str
    reason: str
    accepted: int  # numbers frozen for sending (after validation, de-duplication, opt-outs)
    sent: int  # messages accepted by the provider, every channel
    failed: int
    created_at: float
    finished_at: float | None

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.created_at

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration": self.duration}


async def rows(
    redis: aioredis.Redis,
    *,
    state: CampaignState | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[CampaignRow]:
    """Campaigns submitted ``since`` (all when None), newest first, optionally in one ``state``."""
    low = since.timestamp() if since is not None else "-inf"
    ids = [raw.decode() for raw in await redis.zrevrangebyscore(keys.CAMPAIGNS, "+inf", low)]
    pipe = redis.pipeline(transaction=False)
    for cid in ids:
        pipe.hmget(keys.campaign(cid), _FIELDS)
        pipe.hmget(keys.counters(cid), _SENT)
        pipe.hget(keys.TENANTS, cid)
    answers = await pipe.execute()
    found = []
    for k, cid in enumerate(ids):
        row = _row(cid, *answers[3 * k : 3 * k + 3])
        if row is not None and (state is None or row.state == state.value):
            found.append(row)
    return found[offset : offset + limit]


def _row(
    cid: str, fields: list[bytes | None], sent: list[bytes | None], tenant: bytes | None
) -> CampaignRow | None:
    state, created, finished, updated, counts, name, spec, reason = fields
    if state is None:
        return None  # listed, but its record is gone (purged, or Redis lost it)
    if name is None and spec is not None:  # a record written before names were kept apart
        name = str(orjson.loads(spec).get("name", "")).encode()
    rank = int((tenant or b"1").split(b" ")[0])
    done = state.decode() in ("completed", "cancelled", "failed")
    return CampaignRow(
        cid,
        (name or b"").decode(),
        PRIORITIES[rank],
        state.decode(),
        (reason or b"").decode(),
        int(orjson.loads(counts or b"{}").get("accepted", 0)),
        sum(int(v or 0) for v in sent[:3]),
        int(sent[3] or 0),
        float(created or 0),
        float(finished or updated or 0) if done else None,
    )


async def reschedule(redis: aioredis.Redis, cid: str, start_at: datetime) -> str:
    """Move a campaign that has not started (``scheduled``) to another start time; returns the previous
    one (ISO 8601, "" for none). Its queued batch jobs move with it. Raises StateError for an unknown
    campaign or one that is not scheduled, before any write."""
    key = keys.campaign(cid)
    while True:
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key, keys.dispensed(cid))
                state, raw_spec = await pipe.hmget(key, ["state", "spec"])  # type: ignore[misc]
                if state is None or raw_spec is None:
                    raise StateError(f"unknown campaign {cid!r}")
                if state.decode() != CampaignState.SCHEDULED.value:
                    raise StateError(f"campaign {cid} is {state.decode()}: only a scheduled one can be moved")
                spec = orjson.loads(raw_spec)
                previous = spec["schedule"].get("start_at") or ""
                spec["schedule"]["start_at"] = start_at.isoformat()
                start_ms = int(start_at.timestamp() * 1000)
                jobs = [job for job in await pipe.zrange(keys.dispensed(cid), 0, -1)]
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(
                    key, mapping={"spec": orjson.dumps(spec), "start_ms": start_ms, "updated_at": time.time()}
                )
                if jobs:
                    pipe.zadd(
                        keys.QUEUE, dict.fromkeys(jobs, max(start_ms, int(time.time() * 1000))), xx=True
                    )
                await pipe.execute()
                return str(previous)
            except WatchError:
                continue
