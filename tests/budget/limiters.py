"""Helpers of the budget tests: shared rate settings, a settable clock, admission counting, subprocesses."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from engine.budget.limiter import RateLimiter
from engine.runtime.settings import RateSettings

# 100 numbers/s with 0.1 s of burst (10 numbers); recovering from throttling over 10 s.
RATES = RateSettings(
    smart=100.0, burst_seconds=0.1, max_in_flight=2, throttle_factor=0.5, recover_seconds=10.0
)


T0 = 1_700_000_000.0


APPROX = 1e-5


class Clock:
    """A settable stand-in for Redis TIME."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


MakeLimiter = Callable[..., RateLimiter]


class AdmitCounter:
    """Counts the admissions (``rate.lua`` admit runs) a limiter sends to Redis."""

    def __init__(self, limiter: RateLimiter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        run_rate = limiter._run_rate

        async def counted(op: str, *args: Any, **kwargs: Any) -> Any:
            self.count += op == "admit"
            return await run_rate(op, *args, **kwargs)

        monkeypatch.setattr(limiter, "_run_rate", counted)


async def redis_now(client: aioredis.Redis) -> float:
    seconds, micros = await client.time()
    return float(seconds) + float(micros) / 1_000_000


async def spawn(code: str, *args: object) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *map(str, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def read_line(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    return await process.stdout.readline()
