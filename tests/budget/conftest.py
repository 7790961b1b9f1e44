"""Fixtures of the budget tests: limiters on their own connections, a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine.budget.limiter import RateLimiter
from engine.runtime.settings import RateSettings
from tests.budget.limiters import RATES, Clock, MakeLimiter


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_limiter(redis_url: str) -> AsyncIterator[MakeLimiter]:
    """Build limiters that each own a connection, like separate workers; closes them at the end."""
    clients: list[aioredis.Redis] = []

    def make(settings: RateSettings = RATES, **kwargs: Any) -> RateLimiter:
        client = aioredis.Redis.from_url(redis_url)
        clients.append(client)
        return RateLimiter(client, settings, **kwargs)

    yield make
    for client in clients:
        await client.aclose()
