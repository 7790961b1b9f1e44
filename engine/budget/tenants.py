"""Campaigns as tenants of the shared budgets: their priority class, weight and own caps.

The limiter's script reads a campaign's class, weight and per-channel cap from ``kd:tenants`` at every
admission (``store/lua/shares.lua``), so a change (``koodispatch priority``, ``rate --campaign``) reaches
every worker at their next call. A campaign with no entry sends as ``normal`` with weight 1 and no cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import redis.asyncio as aioredis

from engine.runtime.ranges import check_rate
from engine.store import keys
from engine.types import CHANNELS, PRIORITIES, Channel, Priority

RANKS: Final[dict[Priority, int]] = {priority: rank for rank, priority in enumerate(PRIORITIES)}


@dataclass(frozen=True, slots=True)
class Tenant:
    """A campaign's place on the shared budgets."""

    priority: Priority = "normal"
    weight: float = 1.0
    caps: Mapping[Channel, float] = field(default_factory=dict)  # numbers per second, per channel


async def register(redis: aioredis.Redis, cid: str, tenant: Tenant) -> None:
    """Write (or replace) a campaign's class, weight and caps; a channel without a cap loses any it had."""
    for channel, cap in tenant.caps.items():
        check_rate(channel, cap)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.TENANTS, cid, f"{RANKS[tenant.priority]} {tenant.weight!r}")
        for channel in CHANNELS:
            if channel in tenant.caps:
                pipe.hset(keys.TENANTS, f"{cid}:{channel}", repr(tenant.caps[channel]))
            else:
                pipe.hdel(keys.TENANTS, f"{cid}:{channel}")
        await pipe.execute()


async def load(redis: aioredis.Redis, cid: str) -> Tenant:
    """A campaign's class, weight and caps as every worker sees them now."""
    fields = [cid, *(f"{cid}:{channel}" for channel in CHANNELS)]
    raw: list[bytes | None] = await redis.hmget(keys.TENANTS, fields)  # type: ignore[misc]
    rank, _, weight = (raw[0] or b"1 1.0").decode().partition(" ")
    caps = {channel: float(cap) for channel, cap in zip(CHANNELS, raw[1:], strict=True) if cap is not None}
    return Tenant(PRIORITIES[int(rank)], float(weight), caps)
