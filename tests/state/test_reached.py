"""The opt-out index of numbers messaged (engine/state/reached.py), built a part at a time."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis.asyncio as aioredis

from engine.state import reached
from engine.store import keys


def _expected(numbers: list[int]) -> dict[int, bytes]:
    """Each bucket's records, number by number in the order given: what the index must hold."""
    buckets: dict[int, bytes] = {}
    for number in numbers:
        bucket = number & (reached.BUCKETS - 1)
        buckets[bucket] = buckets.get(bucket, b"") + (number >> reached.BUCKET_BITS).to_bytes(3, "little")
    return buckets


async def test_numbers_added_in_parts_across_slices_land_in_their_buckets_in_order(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reached, "SLICE", 7)  # several slices, parts that straddle them
    rng = np.random.default_rng(23)
    numbers = (13_000_000_000 + rng.integers(0, 4096 * 3, size=60)).astype(np.uint64)  # few buckets, repeats
    records = reached.Records(30)
    for part in np.split(numbers, [5, 6, 19, 19, 40]):
        records.add(part)
    now = time.time()
    await records.write(redis_client, now)
    day = int(now // reached.DAY)
    for bucket, held in _expected(numbers.tolist()).items():
        assert await redis_client.get(keys.reach(day, bucket)) == held
        assert 0 < await redis_client.ttl(keys.reach(day, bucket)) <= 31 * reached.DAY
    reach = reached.Reach(redis_client, 30)
    asked = [str(n) for n in numbers[:10]] + ["13999999999", str(int(numbers[0]) + 2048 * 4096)]
    assert await reach.messaged(asked, now) == {str(n) for n in numbers[:10]}


async def test_no_window_keeps_no_index(redis_client: aioredis.Redis) -> None:
    records = reached.Records(0)
    records.add(np.array([13_000_000_001], dtype=np.uint64))
    await records.write(redis_client, time.time())
    assert await redis_client.keys("*") == []
