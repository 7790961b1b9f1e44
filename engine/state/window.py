"""Send window: whether a campaign may send at a given moment (start time, daily local hours), and from when.

Pure functions of the campaign's ``schedule`` and a time passed in, so the checkpoint, ``status`` and tests
all agree and tests need no real clock hour: a window that closed a minute ago and opens in two seconds is
as good as one that opens tomorrow morning.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from engine.ingest.spec import ScheduleSpec


def utc_now() -> datetime:
    """The default clock of the checkpoint (aware, UTC)."""
    return datetime.now(UTC)


def next_opening(schedule: ScheduleSpec, now: datetime) -> datetime | None:
    """None when a send may happen at ``now`` (aware); else the first later moment one may, in UTC."""
    if schedule.allows(now):
        return None
    at = max(now, schedule.start_at) if schedule.start_at is not None else now
    window = schedule.window
    zone = ZoneInfo(schedule.timezone)
    local = at.astimezone(zone)
    if window is None or window.contains(local.time()):
        return at.astimezone(UTC)
    opening = datetime.combine(local.date(), window.start, zone)
    if opening <= local:
        opening += timedelta(days=1)  # same wall-clock time tomorrow, whatever the UTC offset then
    return opening.astimezone(UTC)


def waiting_note(schedule: ScheduleSpec, now: datetime) -> str | None:
    """``waiting for send window (opens HH:MM)`` in the campaign's zone, or None while sends may happen."""
    opening = next_opening(schedule, now)
    if opening is None:
        return None
    local = opening.astimezone(ZoneInfo(schedule.timezone))
    when = f"{local:%H:%M}" if opening - now < timedelta(days=1) else f"{local:%Y-%m-%d %H:%M}"
    return f"waiting for send window (opens {when})"
