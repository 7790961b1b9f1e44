"""Which numbers this account messaged lately, so that only their opt-out replies are taken.

The callback URL is the account's and uplinks are unsigned: a request holding the token once added 50,000
never-messaged numbers to ``kd:suppression``. Every submission appends its numbers to the day's index: per
UTC day 2048 buckets (by the number's low 11 bits), each a string of 3-byte records (the number's other 24
bits: mobiles are below 2^35), so a number is found exactly by scanning one ~15 KB string per day at 10M
numbers a day. 3 bytes a number a day (plus ~80 bytes a bucket key); each day's buckets expire after the
window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis

from engine.store import keys
from engine.store.scripts import load_script

BUCKET_BITS: Final = 11
BUCKETS: Final = 1 << BUCKET_BITS
RECORD: Final = 3
DAY: Final = 86400
PIPELINE: Final = 512  # bucket appends per round trip
SLICE: Final = 1 << 20  # numbers sorted into buckets at a time


def _record(values: np.ndarray) -> np.ndarray:
    """3-byte little-endian records of ``values`` (each below 2^24), one row each."""
    return values.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :RECORD]


class Records:
    """Today's index records of numbers, gathered per bucket as they come: a submission adds each part of
    the file while its batches are encoded (off the event loop, beside their writes), then writes them once.

    The records are made SLICE numbers at a time (3 bytes a number kept): sorting all of them at once took
    40 bytes a number of temporaries (+1 GB of the submitting process' peak at 30M). A bucket's records are
    in the order the numbers were added, as one stable sort would give them.
    """

    def __init__(self, window_days: float) -> None:
        self.window_days = window_days  # 0 or less: no index is kept, numbers added are ignored
        self._gathered: list[list[bytes]] = [[] for _ in range(BUCKETS)]
        self._waiting: list[npt.NDArray[np.uint64]] = []
        self._held = 0

    def add(self, numbers: npt.NDArray[np.uint64]) -> None:
        """Take ``numbers`` (uint64 mobiles); sorted into buckets once SLICE of them wait."""
        if self.window_days <= 0 or not len(numbers):
            return
        self._waiting.append(numbers)
        self._held += len(numbers)
        if self._held >= SLICE:
            self._sort()

    def _sort(self) -> None:
        some = np.concatenate(self._waiting) if len(self._waiting) > 1 else self._waiting[0]
        self._waiting, self._held = [], 0
        buckets = (some & (BUCKETS - 1)).astype(np.uint16)
        order = np.argsort(buckets, kind="stable")
        records = _record((some >> BUCKET_BITS)[order])
        found, starts = np.unique(buckets[order], return_index=True)
        ends = [*starts[1:].tolist(), len(order)]
        for bucket, first, end in zip(found.tolist(), starts.tolist(), ends, strict=True):
            self._gathered[bucket].append(records[first:end].tobytes())

    async def write(self, redis: aioredis.Redis, now: float) -> None:
        """Append the records to the day of ``now``'s buckets, which expire after the window."""
        if self._held:
            self._sort()
        day, ttl = int(now // DAY), int((self.window_days + 1) * DAY)
        pipe = redis.pipeline(transaction=False)
        filled = (bucket for bucket in range(BUCKETS) if self._gathered[bucket])
        for count, bucket in enumerate(filled, 1):
            key = keys.reach(day, bucket)
            pipe.append(key, b"".join(self._gathered[bucket]))
            self._gathered[bucket] = []
            pipe.expire(key, ttl)
            if count % PIPELINE == 0:
                await pipe.execute()
        await pipe.execute()


class Reach:
    """Looks numbers up in the index of the last ``window_days`` days; the script registered once."""

    def __init__(self, redis: aioredis.Redis, window_days: float) -> None:
        self.window_days = window_days
        self._find = load_script(redis, "reach_find")

    async def messaged(self, numbers: Sequence[str], now: float) -> set[str]:
        """Those of ``numbers`` (11-digit) submitted in a campaign within the window."""
        today = int(now // DAY)
        days = range(today - int(np.ceil(self.window_days)), today + 1)
        found = set()
        for number in numbers:
            value = int(number)
            names = [keys.reach(day, value & (BUCKETS - 1)) for day in days]
            record = _record(np.array([value >> BUCKET_BITS], dtype=np.uint64)).tobytes()
            if int(await self._find(keys=names, args=[record])):
                found.add(number)
        return found
