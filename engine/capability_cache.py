"""The cross-campaign capability cache: number -> "<verdict><unix time>", one Redis hash per UTC day.

A day's hash expires once no verdict in it can be trusted any more, so the cache holds at most a TTL's
worth of numbers instead of every number ever checked. Lookups go newest day first; only the numbers
still unknown are looked up in the day before.

Every number of a batch is looked up and every fresh verdict written, and Redis, which all workers share,
pays for it. Done in Lua, moving one field per number between Lua and Redis cost Redis ~3 µs per number,
three quarters of the engine's script time; plain HMGET / HSET cost it less than half of that. The
commands carry thousands of arguments of one length: ``engine/packed.py`` packs them with a join or two.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import redis.asyncio as aioredis

from engine import keys
from engine.packed import pack_command, pack_pairs, send_packed

DAY: Final = 86400


class CapabilityCache:
    """Verdict characters (``engine.records.Verdict`` values) by number, trusted for ``ttl`` seconds."""

    def __init__(self, redis: aioredis.Redis, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.ttl = ttl
        self.clock = clock

    async def get(self, numbers: Sequence[str]) -> dict[str, str]:
        """The verdicts younger than the TTL of ``numbers``; numbers without one are left out."""
        if self.ttl <= 0 or not numbers:
            return {}
        now = int(self.clock())
        oldest = now - self.ttl
        found: dict[str, str] = {}
        missing, day = list(numbers), now // DAY
        while missing:
            # whether the day before may hold a verdict young enough: if so, ask whether its hash exists
            # in the same round trip, and skip a lookup of thousands of numbers in a day that has none
            earlier = day * DAY > oldest
            lookup = pack_command(("HMGET", keys.CAP_CACHE + str(day)), missing)
            values, *exists = await send_packed(
                self.redis, lookup, *([("EXISTS", keys.CAP_CACHE + str(day - 1))] if earlier else [])
            )
            if values.count(None) == len(values):  # nothing known, a new campaign's usual case: no loop
                still = missing
            else:
                still = []
                for number, value in zip(missing, values, strict=True):
                    if value is not None and int(value[1:]) >= oldest:
                        found[number] = chr(value[0])
                    else:
                        still.append(number)
            if not (exists and exists[0]):
                break
            missing, day = still, day - 1
        return found

    async def put(self, verdicts: Mapping[str, Sequence[str]]) -> None:
        """Remember ``verdicts`` (verdict character -> its numbers) as of now, in today's hash.

        Numbers come grouped by verdict, as the provider answers them: every number of a group gets the
        same stamped value, so the whole command is packed with a join per group (``pack_pairs``),
        without a Python-level step per number.
        """
        if self.ttl <= 0 or not any(verdicts.values()):
            return
        now = int(self.clock())
        day = now // DAY
        key = keys.CAP_CACHE + str(day)
        stamped = {verdict + str(now): numbers for verdict, numbers in verdicts.items()}
        expires = math.ceil((day + 1) * DAY + self.ttl)
        await send_packed(self.redis, pack_pairs(("HSET", key), stamped), ("EXPIREAT", key, expires))
