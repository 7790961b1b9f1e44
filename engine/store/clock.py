"""Redis's clock, read from this host: the one wall clock every host reckons deadlines and windows by."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis.asyncio as aioredis


class RedisClock:
    """This host's wall clock corrected by its measured offset to Redis ``TIME``.

    Budgets, leases and the running jobs' deadlines are reckoned inside Redis already. What a worker
    reckons itself in wall time goes by this clock: a call's deadline in the journal (a successor on another
    host decides by it when "no record at the provider" proves the call never landed) and a campaign's start
    time and send window. So a host whose clock is off neither lets a call still outstanding be resent nor
    sends before the window opens. The offset is measured at start and again every upkeep round (a clock
    stepped by NTP is followed within seconds); ``now`` costs no round trip.
    """

    def __init__(self) -> None:
        self.offset = 0.0  # seconds to add to this host's wall clock

    async def sync(self, redis: aioredis.Redis) -> float:
        """Measure the offset again (one TIME round trip, its middle taken as the moment Redis answered)."""
        before = time.time()
        seconds, micros = await redis.time()
        after = time.time()
        self.offset = seconds + micros / 1e6 - (before + after) / 2
        return self.offset

    def now(self) -> float:
        """Unix seconds by Redis's clock."""
        return time.time() + self.offset

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)
