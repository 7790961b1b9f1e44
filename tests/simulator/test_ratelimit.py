"""The simulator's own per-second rate limits."""

from __future__ import annotations

import random

import pytest

from engine.simulator.config import RateConfig
from engine.simulator.ratelimit import RateLimiter as SimRateLimiter


@pytest.mark.parametrize("numbers", [1501, 1507, 2999, 4999])
def test_an_idle_channel_admits_one_call_larger_than_its_burst_at_any_moment(numbers: int) -> None:
    """Float rounding once rejected such calls forever (a 429 loop on a lone basic-edition chunk)."""
    limiter = SimRateLimiter()
    rates = RateConfig(basic=1500.0)
    moments = random.Random(numbers)
    for _ in range(2000):
        limiter.reset()
        assert limiter.charge(rates, "basic", numbers, now=moments.uniform(1e3, 1e6)) == 0.0
