"""Python API for applications that submit and steer campaigns through the queue.

Each function takes an open Redis connection (an ``ArqRedis`` from ``engine.queue.open_queue`` for
submission) so applications control connection lifetimes; nothing here reads the environment implicitly
except ``load_settings()`` when no settings are passed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from engine import control, planner
from engine.campaign import CampaignSpec, load_spec
from engine.errors import ConfigError
from engine.planner import SubmitResult
from engine.ratelimit import CHANNELS, RateInfo, RateLimiter
from engine.report import Report, build_report
from engine.settings import Settings, load_settings
from engine.types import Channel


def _spec(spec: CampaignSpec | Path | str | Mapping[str, Any]) -> CampaignSpec:
    if isinstance(spec, CampaignSpec):
        return spec
    if isinstance(spec, Path | str):
        return load_spec(Path(spec))
    return CampaignSpec.model_validate(dict(spec))


async def submit_campaign(
    spec: CampaignSpec | Path | str | Mapping[str, Any],
    *,
    redis: ArqRedis,
    recipients: Path | None = None,
    settings: Settings | None = None,
) -> SubmitResult:
    """Validate and submit a campaign; idempotent per campaign id.

    Raises ConfigError (bad spec, naming the field) or InputError (bad recipient file, naming file/row/
    column) before anything is written to Redis.
    """
    return await planner.submit(redis, settings or load_settings(), _spec(spec), recipients)


async def campaign_report(cid: str, *, redis: aioredis.Redis) -> Report:
    """Counts of a campaign so far (also its status); raises StateError for an unknown id."""
    return await build_report(redis, cid)


campaign_status = campaign_report


async def pause(cid: str, *, redis: aioredis.Redis) -> str:
    """Pause a campaign on every worker; returns the previous state."""
    return (await control.pause(redis, cid)).value


async def resume(cid: str, *, redis: ArqRedis) -> str:
    """Resume a paused campaign and queue its unfinished batches again; returns the previous state."""
    previous = await control.resume(redis, cid)
    await planner.requeue(redis, cid)
    return previous.value


async def cancel(cid: str, *, redis: aioredis.Redis) -> str:
    """Cancel a campaign; returns the previous state."""
    return (await control.cancel(redis, cid)).value


async def set_rates(
    redis: aioredis.Redis, settings: Settings, changes: Mapping[str, float]
) -> dict[Channel, RateInfo]:
    """Change shared rate budgets live (numbers per second); returns every channel's current rate.

    Raises ConfigError for an unknown channel or a rate that is not a positive number, before any write.
    """
    for channel, per_second in changes.items():
        if channel not in CHANNELS or not (math.isfinite(per_second) and per_second > 0):
            raise ConfigError(f"rate {channel}: must be a positive number per second, got {per_second:g}")
    limiter = RateLimiter(redis, settings.rates)
    await limiter.ensure_defaults()
    for channel, per_second in changes.items():
        await limiter.set_rate(channel, per_second)  # type: ignore[arg-type]
    return await limiter.get_rates()
