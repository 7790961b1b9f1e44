"""The cross-campaign capability cache: each UTC day, one Redis list of packed verdict records.

A verdict is trusted for ``ttl`` seconds and shared by every worker. Kept as a hash of number -> verdict,
the cache cost Redis a field per number looked up and per verdict written: about half of Redis' CPU in a
campaign of new numbers, where every lookup misses. Here Redis does no work per number: a write appends
one element of 8-byte records (``engine/resolve/verdict_records.py``) to the day's list; a lookup first reads
the elements this process has not seen yet (``LRANGE`` from its offset), then looks the numbers up in the
process' own copy. Each process holds the records of the days it may still trust: about 10 bytes per
number checked that day, 100 MB for 10M numbers.

A day's list expires once no verdict in it can be trusted any more. Numbers are 11-digit strings, as the
planner normalises them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import redis.asyncio as aioredis

from engine.resolve.verdict_records import DAY, DayRecords, as_integers, records
from engine.store import keys
from engine.store.packed import Command, send_packed


class CapabilityCache:
    """Verdict characters (``engine.state.records.Verdict`` values) by number, trusted for ``ttl`` seconds."""

    def __init__(self, redis: aioredis.Redis, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.ttl = ttl
        self.clock = clock
        self.days: dict[int, DayRecords] = {}
        self.reading = asyncio.Lock()  # one catch-up at a time: concurrent ones would read the same records

    async def get(self, numbers: Sequence[str]) -> dict[str, str]:
        """The verdicts younger than the TTL of ``numbers``; numbers without one are left out."""
        if self.ttl <= 0 or not numbers:
            return {}
        now = int(self.clock())
        oldest = math.ceil(now - self.ttl)
        days = await self._catch_up(range(oldest // DAY, now // DAY + 1))
        wanted = as_integers(numbers)
        order = np.argsort(wanted)  # sorted, the binary searches walk each run once: twice as fast
        wanted = wanted[order]
        newest = np.zeros(len(wanted), dtype=np.uint64)
        for held in days:
            held.newest(wanted, newest)
        fresh = np.flatnonzero(newest >= np.uint64(oldest << 8))
        verdicts = (newest[fresh] & np.uint64(0xFF)).tolist()
        return {numbers[i]: chr(v) for i, v in zip(order[fresh].tolist(), verdicts, strict=True)}

    async def _catch_up(self, days: range) -> list[DayRecords]:
        """The records of ``days``, after reading in what was appended since this process last looked.

        Days before ``days`` are dropped. A list shorter than what was read of it was lost with Redis'
        data: its copy is dropped and the list read again from the start.
        """
        async with self.reading:
            for day in [d for d in self.days if d < days.start]:
                del self.days[day]
            held = [self.days.setdefault(day, DayRecords(day)) for day in days]
            commands: list[Command] = []
            for day, copy in zip(days, held, strict=True):
                commands += [
                    ("LRANGE", keys.CAP_CACHE + str(day), copy.seen, -1),
                    ("LLEN", keys.CAP_CACHE + str(day)),
                ]
            replies = await send_packed(self.redis, *commands)
            for index, day in enumerate(days):
                elements, length = replies[2 * index : 2 * index + 2]
                if length < held[index].seen:
                    held[index] = self.days[day] = DayRecords(day)
                    elements = await self.redis.lrange(keys.CAP_CACHE + str(day), 0, -1)  # type: ignore[misc]
                held[index].add(elements)
            return held

    async def put(self, verdicts: Mapping[str, Sequence[str]]) -> None:
        """Remember ``verdicts`` (verdict character -> its numbers) as of now: one element appended to
        today's list, which expires when its last verdict may no longer be trusted."""
        if self.ttl <= 0 or not any(verdicts.values()):
            return
        now = int(self.clock())
        day = now // DAY
        packed = [records(as_integers(got), verdict, now) for verdict, got in verdicts.items() if got]
        key = keys.CAP_CACHE + str(day)
        expires = math.ceil((day + 1) * DAY + self.ttl)
        await send_packed(
            self.redis, ("RPUSH", key, np.concatenate(packed).tobytes()), ("EXPIREAT", key, expires)
        )
