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
_WINDOW = 500  # campaign ids read from the index per round trip


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
    template_id: str = ""  # the smart-message template, as the console's task list shows and filters it
    signature: str = ""  # the SMS signature (短消息签名) of its text messages

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.created_at

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration": self.duration}


@dataclass(frozen=True, slots=True)
class Filter:
    """Which campaigns a page lists: in one ``state``, of one ``priority`` class, whose name contains
    ``name`` (case-insensitive), submitted in [``since``, ``until``], with smart template ``template_id``
    and SMS ``signature`` (exact: the KooMessage console's task list filters by both)."""

    state: CampaignState | None = None
    priority: str | None = None
    name: str = ""
    since: datetime | None = None
    until: datetime | None = None
    template_id: str = ""
    signature: str = ""

    @property
    def by_time_only(self) -> bool:
        """Whether the index alone (scored by submission time) decides which rows are listed."""
        return (
            self.state is None
            and self.priority is None
            and not self.name
            and not self.template_id
            and not self.signature
        )

    def keeps(self, row: CampaignRow) -> bool:
        return (
            (self.state is None or row.state == self.state.value)
            and (self.priority is None or row.priority == self.priority)
            and self.name.casefold() in row.name.casefold()
            and (not self.template_id or row.template_id == self.template_id)
            and (not self.signature or row.signature == self.signature)
        )


async def rows(
    redis: aioredis.Redis,
    *,
    state: CampaignState | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
    where: Filter | None = None,
) -> list[CampaignRow]:
    """Campaigns submitted ``since`` (all when None), newest first, optionally in one ``state``; ``where``
    adds the other filters (its state and since win over the arguments).

    Without a filter on the records, the page is read straight from the index (its records only: the first
    page of ten thousand campaigns reads fifty). Otherwise the index is read a window at a time, newest
    first, until the page is full; filters that keep few rows read more windows.
    """
    where = where or Filter(state=state, since=since)
    low = where.since.timestamp() if where.since is not None else "-inf"
    high = where.until.timestamp() if where.until is not None else "+inf"
    if where.by_time_only:
        page = await redis.zrevrangebyscore(keys.CAMPAIGNS, high, low, offset, limit)
        return await _read(redis, [raw.decode() for raw in page])
    window = max(2 * (offset + limit), _WINDOW)
    found: list[CampaignRow] = []
    start = 0
    while len(found) < offset + limit:
        ids = [raw.decode() for raw in await redis.zrevrangebyscore(keys.CAMPAIGNS, high, low, start, window)]
        found += [row for row in await _read(redis, ids) if where.keeps(row)]
        if len(ids) < window:
            break
        start += window
    return found[offset : offset + limit]


async def row(redis: aioredis.Redis, cid: str) -> CampaignRow | None:
    """One campaign's row; None when it is unknown."""
    found = await _read(redis, [cid])
    return found[0] if found else None


async def _read(redis: aioredis.Redis, ids: list[str]) -> list[CampaignRow]:
    """The rows of ``ids`` in one round trip, in their order, without those whose record is gone."""
    pipe = redis.pipeline(transaction=False)
    for cid in ids:
        pipe.hmget(keys.campaign(cid), _FIELDS)
        pipe.hmget(keys.counters(cid), _SENT)
        pipe.hget(keys.TENANTS, cid)
    answers = await pipe.execute()
    found = (_row(cid, *answers[3 * k : 3 * k + 3]) for k, cid in enumerate(ids))
    return [row for row in found if row is not None]


def _row(
    cid: str, fields: list[bytes | None], sent: list[bytes | None], tenant: bytes | None
) -> CampaignRow | None:
    state, created, finished, updated, counts, name, spec, reason = fields
    if state is None:
        return None  # listed, but its record is gone (purged, or Redis lost it)
    body: dict[str, Any] = orjson.loads(spec) if spec is not None else {}
    if name is None:  # a record written before names were kept apart
        name = str(body.get("name", "")).encode()
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
        str((body.get("smart") or {}).get("template_id") or ""),
        str((body.get("sms_channel") or {}).get("signature") or ""),
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
