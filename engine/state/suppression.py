"""The shared suppression list (``kd:suppression``): numbers that opted out, never sent to by any campaign.

Numbers are kept normalised (11 digits), as the planner and the receipts service compare them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import redis.asyncio as aioredis

from engine.errors import InputError
from engine.ingest.numbers import normalise
from engine.ingest.recipients import load_suppression
from engine.store import keys

BATCH = 10_000  # numbers per SADD of an import


def number_of(value: str) -> str:
    """``value`` normalised; raises InputError when it is not a mobile number."""
    found = normalise(value)
    if found is None:
        raise InputError(f"{value!r} is not a mobile number")
    return found


async def contains(redis: aioredis.Redis, value: str) -> bool:
    return bool(await redis.sismember(keys.SUPPRESSION, number_of(value)))  # type: ignore[misc]


async def add(redis: aioredis.Redis, values: Iterable[str]) -> int:
    """Add numbers; returns how many were new. Raises InputError (before any write) for a bad one."""
    numbers = [number_of(v) for v in values]
    added = 0
    for start in range(0, len(numbers), BATCH):
        added += int(await redis.sadd(keys.SUPPRESSION, *numbers[start : start + BATCH]))  # type: ignore[misc]
    return added


async def remove(redis: aioredis.Redis, value: str) -> bool:
    """Take a number off the list; returns whether it was on it."""
    return bool(await redis.srem(keys.SUPPRESSION, number_of(value)))  # type: ignore[misc]


async def page(redis: aioredis.Redis, cursor: int = 0, count: int = 500) -> tuple[list[str], int]:
    """About ``count`` numbers from ``cursor`` (SSCAN: no order, each listed once); next 0 = the end."""
    following, found = await redis.sscan(keys.SUPPRESSION, cursor, count=count)
    return sorted(n.decode() for n in found), int(following)


async def import_file(redis: aioredis.Redis, path: Path) -> int:
    """Add the numbers of a suppression file (one per line, or a CSV); returns how many were new."""
    numbers = await asyncio.to_thread(load_suppression, path)
    return await add(redis, numbers)
