"""The Python API's own checks (``engine/api.py``); what it drives is tested with each stage."""

from __future__ import annotations

import math

import pytest
import redis.asyncio as aioredis

from engine import api
from engine.errors import ConfigError
from engine.runtime.settings import load_settings


@pytest.mark.parametrize(
    ("changes", "expect"),
    [({"sms": 500.0, "smart": 1e-9}, "smart: 1e-09 is outside the allowed range of 0.01 to 1,000,000 "),
     ({"sms": 500.0, "basic": 2_000_000.0}, "rate of channel basic: 2000000 is outside"),
     ({"sms": 500.0, "capability": math.nan}, "rate of channel capability: nan is outside"),
     ({"sms": 500.0, "fax": 10.0}, "unknown channel 'fax'")],
)  # fmt: skip
async def test_set_rates_refuses_a_rate_outside_its_range_before_writing_any(
    redis_client: aioredis.Redis, changes: dict[str, float], expect: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        await api.set_rates(redis_client, load_settings(), changes)
    assert expect in str(refused.value)
    assert await redis_client.dbsize() == 0  # not even the good change of the same call
