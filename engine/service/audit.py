"""The audit log: every state change made through the API — who, when, what, from where — in Redis streams.

One stream for everything (``kd:audit``) and one per campaign (``kd:{cid}:audit``), so a campaign's page
reads only its own entries. Both are capped; the export is the same entries as CSV.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from engine.phones import mask_numbers
from engine.service.auth import Principal
from engine.store import keys

MAX_ENTRIES: Final = 1_000_000  # approximate cap of the global stream; per campaign, a tenth of it


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One state change: ``id`` orders them (a Redis stream id), ``detail`` holds the request's parameters."""

    id: str
    at: float
    who: str
    role: str
    remote: str
    action: str
    campaign: str
    detail: dict[str, Any]


async def record(
    redis: aioredis.Redis, who: Principal, action: str, campaign: str = "", detail: Mapping[str, Any] = {}
) -> None:
    """Append one entry to the global stream and, when it names a campaign, to the campaign's own."""
    entry = {
        "at": repr(time.time()), "who": who.name, "role": who.role.value, "remote": who.remote,
        "action": action, "campaign": campaign, "detail": mask_numbers(orjson.dumps(dict(detail)).decode()),
    }  # fmt: skip
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(keys.AUDIT, entry, maxlen=MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]
    if campaign:
        pipe.xadd(keys.audit(campaign), entry, maxlen=MAX_ENTRIES // 10, approximate=True)  # type: ignore[arg-type]
    await pipe.execute()


async def entries(
    redis: aioredis.Redis, campaign: str = "", *, before: str = "+", limit: int = 100
) -> list[AuditEntry]:
    """Entries newest first, older than stream id ``before`` (exclusive; ``+`` = from the newest)."""
    key = keys.audit(campaign) if campaign else keys.AUDIT
    high = _below(before)
    if high is None:
        return []
    raw = await redis.xrevrange(key, high, "-", count=limit)
    return [_entry(ident, values) for ident, values in raw]


def _below(ident: str) -> str | None:
    """The highest stream id under ``ident`` (``+`` stays the top); None when nothing is under it."""
    if ident == "+":
        return ident
    ms, seq = (min(int(part), 2**64 - 1) for part in ident.split("-"))
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{2**64 - 1}" if ms > 0 else None


def _entry(ident: bytes, values: Mapping[bytes, bytes]) -> AuditEntry:
    text = {k.decode(): v.decode() for k, v in values.items()}
    return AuditEntry(
        ident.decode(), float(text["at"]), text["who"], text["role"], text["remote"], text["action"],
        text["campaign"], orjson.loads(text["detail"]),
    )  # fmt: skip


def as_csv(found: list[AuditEntry]) -> str:
    """The entries as CSV, one row each, ``detail`` as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f.name for f in fields(AuditEntry)])
    for entry in found:
        row = list(astuple(entry))
        row[-1] = orjson.dumps(entry.detail).decode()
        writer.writerow(row)
    return out.getvalue()
