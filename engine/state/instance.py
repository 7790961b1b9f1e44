"""The id of the Redis dataset: a worker stops when Redis came back without its data.

Each Redis dataset carries a random ``kd:instance`` id, set by the first worker. If it changes or vanishes,
Redis restarted without persistence (or was flushed): campaign state is gone, so the worker stops with a
clear error instead of running anything again from zero.
"""

from __future__ import annotations

import uuid
from typing import Final

import redis.asyncio as aioredis

from engine.errors import StateLost
from engine.store import keys

LOST: Final = (
    "Redis lost its data (kd:instance changed or vanished: restarted without persistence, or flushed); "
    "campaign state is gone, so this worker stops instead of starting anything again from zero. "
    "Run Redis with appendonly yes (see README, Guarantees)."
)


async def claim_instance(redis: aioredis.Redis) -> str:
    """The id of the Redis dataset, created by the first worker that sees it."""
    await redis.set(keys.INSTANCE, uuid.uuid4().hex, nx=True)
    raw = await redis.get(keys.INSTANCE)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class InstanceWatch:
    """Remembers the dataset id a worker started with; :meth:`check` raises StateLost once it changed."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.instance = ""

    async def start(self) -> None:
        self.instance = await claim_instance(self.redis)

    async def check(self) -> None:
        """Raise StateLost when the dataset id is not the one this worker started with."""
        if await self.redis.get(keys.INSTANCE) != self.instance.encode():
            raise StateLost(LOST)
