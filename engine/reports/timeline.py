"""The send timeline: numbers accepted per channel in 10-second buckets, as rates for the report and status.

``finish_chunk.lua`` counts each accepted chunk in the bucket of its answer (``keys.timeline``); here the
buckets are read back, keyed by their start in the campaign's time zone, and turned into numbers per second.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from engine.state.progress import TIMELINE_STEP_SECONDS
from engine.store import keys

Buckets = dict[str, dict[str, int]]  # bucket start (ISO 8601, campaign zone) -> channel -> numbers
RECENT_SECONDS: Final = 30  # "the current rate": the last complete buckets this long


def stamp(second: float, zone: ZoneInfo) -> str:
    """A unix time as ISO 8601 in ``zone``, to the second (``2026-12-06T22:19:10+08:00``)."""
    return datetime.fromtimestamp(int(second), zone).isoformat()


def second_of(key: str) -> int:
    """The unix second of a bucket key written by ``stamp``."""
    return int(datetime.fromisoformat(key).timestamp())


async def read(redis: aioredis.Redis, cid: str, zone: ZoneInfo) -> Buckets:
    """The campaign's buckets in time order; a bucket a channel sent nothing in has no entry for it."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.timeline(cid))  # type: ignore[misc]
    by_second: dict[int, dict[str, int]] = {}
    for field, value in raw.items():
        second, _, channel = field.decode().partition(":")
        by_second.setdefault(int(second), {})[channel] = int(value)
    return {stamp(second, zone): by_second[second] for second in sorted(by_second)}


def rates(buckets: Buckets, step: int = TIMELINE_STEP_SECONDS) -> tuple[list[int], dict[str, list[float]]]:
    """(start second of every bucket from the first to the last, numbers/s per channel in each); a bucket
    nothing was sent in is a zero, so a pause shows as one."""
    if not buckets:
        return [], {}
    seconds = [second_of(key) for key in buckets]
    span = list(range(seconds[0], seconds[-1] + 1, step))
    by_second = dict(zip(seconds, buckets.values(), strict=True))
    channels = sorted({channel for counts in buckets.values() for channel in counts})
    series = {ch: [by_second.get(s, {}).get(ch, 0) / step for s in span] for ch in channels}
    return span, series


def recent_rate(
    buckets: Mapping[str, Mapping[str, int]], now: float, step: int = TIMELINE_STEP_SECONDS
) -> float:
    """Numbers sent per second, all channels, over the last ``RECENT_SECONDS`` of complete buckets
    before ``now`` (the bucket still filling would read low)."""
    current = int(now) - int(now) % step
    since = current - RECENT_SECONDS
    sent = sum(sum(counts.values()) for key, counts in buckets.items() if since <= second_of(key) < current)
    return sent / RECENT_SECONDS
