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
    """``waiting for send window (opens 2026-12-07 08:00 Asia/Shanghai, in 9 h 45 min)``, or None while
    sends may happen: a date and a zone, since the reader is rarely in the campaign's zone on its day."""
    opening = next_opening(schedule, now)
    if opening is None:
        return None
    return f"waiting for send window (opens {_when(schedule, opening, now)})"


def closed_warning(schedule: ScheduleSpec, now: datetime) -> str | None:
    """A warning for ``plan`` and ``submit`` when the daily window is closed at the moment the campaign may
    start (now, or its ``start_at``): nothing is sent until it opens. None when it is open then."""
    start = max(now, schedule.start_at) if schedule.start_at is not None else now
    opening = next_opening(schedule, start)
    hours = schedule.window
    if opening is None or hours is None:
        return None
    return (
        f"the send window {hours.start:%H:%M}-{hours.end:%H:%M} is closed now: "
        f"nothing is sent until it opens {_when(schedule, opening, now)}"
    )


def _when(schedule: ScheduleSpec, opening: datetime, now: datetime) -> str:
    """``2026-12-07 08:00 Asia/Shanghai, in 9 h 45 min``."""
    local = opening.astimezone(ZoneInfo(schedule.timezone))
    minutes = max(0, round((opening - now).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    wait = " ".join(f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n)
    return f"{local:%Y-%m-%d %H:%M} {schedule.timezone}, in {wait or 'under a minute'}"
