"""The cross-campaign capability cache: each UTC day, one Redis list of packed verdict records.

A verdict is trusted for ``ttl`` seconds and shared by every worker. Kept as a hash of number -> verdict,
the cache cost Redis a field per number looked up and per verdict written: about half of Redis' CPU in a
campaign of new numbers, where every lookup misses. Here Redis does no work per number. A write appends
one element of fixed-size records (number, stamp and verdict; 16 bytes each) to the day's list; a lookup
first fetches the elements the process has not seen yet (``LRANGE`` from its offset) and then looks the
numbers up in its own copy, sorted runs of numpy arrays (:class:`Runs`). Each process holds the records of
the days it may still trust: 16 bytes per number checked, 160 MB for 10M numbers.

A day's list expires once no verdict in it can be trusted any more. Numbers are 11-digit strings, as the
planner normalises them; they are parsed to integers by numpy in one call.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis

from engine import keys
from engine.packed import Command, send_packed

DAY: Final = 86400
RECORD: Final = np.dtype("<u8")  # little-endian on every machine that shares the list
Array = npt.NDArray[np.uint64]
VERDICT_BITS: Final = 8  # a record's value: unix time << 8 | the verdict character's code


def as_integers(numbers: Sequence[str]) -> Array:
    """``numbers`` (digit strings) as integers, parsed in C; anything but digits is refused."""
    parsed = np.fromstring(" ".join(numbers), dtype=RECORD, sep=" ")
    if len(parsed) != len(numbers):
        raise ValueError("capability cache: numbers must be digit strings")
    return parsed


class Runs:
    """A day's records in this process: sorted runs of (number, value), where a later record of a number
    outranks an earlier one by its larger value (newer stamp). A new run is merged into the one before
    it while that is at most twice its size, so runs stay few (logarithmic in the records) and each
    record is merged a logarithmic number of times."""

    def __init__(self) -> None:
        self.seen = 0  # elements of the day's list read so far
        self.runs: list[tuple[Array, Array]] = []

    def add(self, elements: Sequence[bytes]) -> None:
        records = np.frombuffer(b"".join(elements), dtype=RECORD).reshape(-1, 2)
        self.seen += len(elements)
        if len(records):
            self.runs.append(self._sorted(records[:, 0], records[:, 1]))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (a, av), (b, bv) = self.runs.pop(-2), self.runs.pop()
            self.runs.append(self._sorted(np.concatenate((a, b)), np.concatenate((av, bv))))

    @staticmethod
    def _sorted(numbers: Array, values: Array) -> tuple[Array, Array]:
        order = np.argsort(numbers, kind="stable")  # two sorted runs one after the other: one merge pass
        return numbers[order], values[order]

    def newest(self, numbers: Array, into: Array) -> None:
        """Raise ``into[i]`` to the newest value this day holds for ``numbers[i]``."""
        for run, values in self.runs:
            # the last record of each number in the run: with equal numbers, later records have later
            # stamps (the stable sort keeps arrival order), and the largest value wins anyway
            at = np.searchsorted(run, numbers, side="right") - 1
            clipped = np.maximum(at, 0)
            hit = (at >= 0) & (run[clipped] == numbers)
            np.maximum(into, np.where(hit, values[clipped], 0), out=into)


class CapabilityCache:
    """Verdict characters (``engine.records.Verdict`` values) by number, trusted for ``ttl`` seconds."""

    def __init__(self, redis: aioredis.Redis, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.ttl = ttl
        self.clock = clock
        self.days: dict[int, Runs] = {}
        self.reading = asyncio.Lock()  # one catch-up at a time: concurrent ones would read the same records

    async def get(self, numbers: Sequence[str]) -> dict[str, str]:
        """The verdicts younger than the TTL of ``numbers``; numbers without one are left out."""
        if self.ttl <= 0 or not numbers:
            return {}
        now = int(self.clock())
        oldest = math.ceil(now - self.ttl)
        days = await self._catch_up(range(oldest // DAY, now // DAY + 1))
        wanted = as_integers(numbers)
        order = np.argsort(wanted)  # sorted lookups walk the runs in order: ~8x faster than random ones
        wanted = wanted[order]
        newest = np.zeros(len(wanted), dtype=np.uint64)
        for runs in days:
            runs.newest(wanted, newest)
        fresh = np.flatnonzero(newest >= np.uint64(oldest << VERDICT_BITS))
        verdicts = (newest[fresh] & np.uint64(0xFF)).tolist()
        return {numbers[i]: chr(v) for i, v in zip(order[fresh].tolist(), verdicts, strict=True)}

    async def _catch_up(self, days: range) -> list[Runs]:
        """The records of ``days``, after reading in what was appended since this process last looked.

        Days before ``days`` are dropped. A list shorter than what was read of it was lost with Redis'
        data: its copy is dropped and the list read again from the start.
        """
        async with self.reading:
            for day in [d for d in self.days if d < days.start]:
                del self.days[day]
            held = [self.days.setdefault(day, Runs()) for day in days]
            commands: list[Command] = []
            for day, runs in zip(days, held, strict=True):
                commands += [
                    ("LRANGE", keys.CAP_CACHE + str(day), runs.seen, -1),
                    ("LLEN", keys.CAP_CACHE + str(day)),
                ]
            replies = await send_packed(self.redis, *commands)
            for index, day in enumerate(days):
                elements, length = replies[2 * index : 2 * index + 2]
                if length < held[index].seen:
                    held[index] = self.days[day] = Runs()
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
        records = np.concatenate(
            [
                np.column_stack(
                    (as_integers(got), np.full(len(got), now << VERDICT_BITS | ord(verdict), RECORD))
                )
                for verdict, got in verdicts.items()
                if got
            ]
        )
        key = keys.CAP_CACHE + str(day)
        expires = math.ceil((day + 1) * DAY + self.ttl)
        await send_packed(self.redis, ("RPUSH", key, records.tobytes()), ("EXPIREAT", key, expires))
