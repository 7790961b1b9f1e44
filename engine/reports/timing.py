"""When a campaign ran, in its own time zone: submitted, first and last number accepted, ended, duration."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.reports.timeline import stamp
from engine.state.campaigns import CampaignRecord


@dataclass(frozen=True, slots=True)
class Timing:
    """Times as ISO 8601 in the spec's ``schedule.timezone``; None for what has not happened yet.

    ``duration_seconds`` runs from the first number accepted (else the submission) to the end, or to now
    while the campaign has not ended.
    """

    timezone: str
    submitted_at: str
    first_sent_at: str | None
    last_sent_at: str | None
    ended_at: str | None
    duration_seconds: float


def timing(record: CampaignRecord, c: dict[str, int], now: float | None = None) -> Timing:
    """From the record (submission, end of a terminal state) and the counters ``first_sent_at`` /
    ``last_sent_at`` that ``finish_chunk.lua`` keeps."""
    zone_name = record.spec.schedule.timezone
    zone = ZoneInfo(zone_name)
    first, last = c.get("first_sent_at"), c.get("last_sent_at")
    ended = record.updated_at if record.terminal else None
    start = first if first is not None else record.created_at
    end = ended if ended is not None else (time.time() if now is None else now)
    return Timing(
        timezone=zone_name,
        submitted_at=stamp(record.created_at, zone),
        first_sent_at=None if first is None else stamp(first, zone),
        last_sent_at=None if last is None else stamp(last, zone),
        ended_at=None if ended is None else stamp(ended, zone),
        duration_seconds=max(0.0, end - start),
    )


def shown(at: str | None) -> str:
    """``2026-12-06 22:19:10`` (the zone is named once, beside the times), or "—"."""
    return "—" if at is None else datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S")


def zone_label(t: Timing) -> str:
    """``Asia/Shanghai (UTC+08:00)`` at the submission."""
    offset = datetime.fromisoformat(t.submitted_at).strftime("%z")
    return f"{t.timezone} (UTC{offset[:3]}:{offset[3:]})"


def duration(seconds: float) -> str:
    """``1h02m03s``, ``4m05s``, ``6s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
