"""Campaign report: the console's import/resolution table plus what was sent, skipped and failed, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from engine import campaigns, keys
from engine.progress import counters, open_chunks

CHANNELS = ("smart", "sms", "basic")


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure a campaign team asks for; ``unsent`` is what a cancel or pause left behind."""

    campaign: str
    state: str
    reason: str
    rows: int
    imported: int
    duplicates: int
    invalid: int
    suppressed: int
    accepted: int
    capable: int
    not_capable: int
    provider_invalid: int
    sent: dict[str, int]
    skipped: int
    failed: int
    failed_by_reason: dict[str, int]
    failed_by_channel: dict[str, int]
    unsent: int
    batches: int
    batches_done: int
    in_flight: int
    timeline: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _timeline(redis: aioredis.Redis, cid: str) -> dict[str, dict[str, int]]:
    raw: dict[bytes, bytes] = await redis.hgetall(keys.timeline(cid))  # type: ignore[misc]
    out: dict[str, dict[str, int]] = {}
    for key, value in raw.items():
        minute, channel = key.decode().split(":")
        out.setdefault(minute, {})[channel] = int(value)
    return dict(sorted(out.items()))


async def build_report(redis: aioredis.Redis, cid: str) -> Report:
    """Read a campaign's record and counters; raises StateError for an unknown campaign."""
    record = await campaigns.load(redis, cid)
    c = await counters(redis, cid)
    counts = record.counts
    sent = {ch: c.get(f"sent:{ch}", 0) for ch in CHANNELS}
    reasons = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("failed:")}
    accepted = counts.get("accepted", 0)
    skipped = c.get("skipped", 0)
    failed = c.get("failed", 0)
    done: int = await redis.scard(keys.batches_done(cid))  # type: ignore[misc]
    return Report(
        campaign=cid,
        state=record.state.value,
        reason=record.reason,
        rows=counts.get("rows", 0),
        imported=counts.get("imported", 0),
        duplicates=counts.get("duplicates", 0),
        invalid=counts.get("invalid", 0),
        suppressed=counts.get("suppressed", 0),
        accepted=accepted,
        capable=c.get("capable", 0),
        not_capable=c.get("not_capable", 0),
        provider_invalid=c.get("provider_invalid", 0),
        sent=sent,
        skipped=skipped,
        failed=failed,
        failed_by_reason=dict(sorted(reasons.items())),
        failed_by_channel={k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("failed_on:")},
        unsent=max(0, accepted - sum(sent.values()) - skipped - failed),
        batches=record.batches,
        batches_done=done,
        in_flight=await open_chunks(redis, cid, record.batches),
        timeline=await _timeline(redis, cid),
    )
