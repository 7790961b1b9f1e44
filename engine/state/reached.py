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
import polars as pl
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


async def remember(
    redis: aioredis.Redis, numbers: np.ndarray | pl.Series, window_days: float, now: float
) -> None:
    """Add ``numbers`` (uint64 mobiles: an array, or the submitted table's column as it is) to today's
    index; its buckets expire after the window.

    A slice of SLICE numbers at a time, each copied out of ``numbers`` only then: sorting and packing all of
    them at once held ~30 bytes a number beside the submitted table at the submitting process' peak (+0.9 GB
    at 30M rows), and the column as one array 8 more. A bucket gets one append per slice; the order of
    records within a bucket does not matter (a lookup scans it).
    """
    if not len(numbers) or window_days <= 0:
        return
    day, ttl = int(now // DAY), int((window_days + 1) * DAY)
    pipe = redis.pipeline(transaction=False)
    queued = 0
    for at in range(0, len(numbers), SLICE):
        part = np.asarray(numbers[at : at + SLICE], dtype=np.uint64)
        buckets = (part & (BUCKETS - 1)).astype(np.uint16)
        order = np.argsort(buckets, kind="stable")
        records = _record((part >> BUCKET_BITS)[order])
        found, starts = np.unique(buckets[order], return_index=True)
        ends = [*starts[1:].tolist(), len(order)]
        for bucket, start, end in zip(found.tolist(), starts.tolist(), ends, strict=True):
            key = keys.reach(day, bucket)
            pipe.append(key, records[start:end].tobytes())
            pipe.expire(key, ttl)
            queued += 1
            if queued % PIPELINE == 0:
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
