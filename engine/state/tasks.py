"""The task id → chunk reference map: smart and basic-edition receipts name only the provider's task id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import redis.asyncio as aioredis

from engine.store import keys

# Status reports come within 72 h of a send (basic edition: "timeout" after 72 h); a day of slack on top.
TASK_TTL_SECONDS: Final = 4 * 24 * 3600


async def chunk_refs(redis: aioredis.Redis, task_ids: Iterable[str]) -> dict[str, str]:
    """Chunk references of the known ids among ``task_ids`` (one round trip); unknown ids are left out."""
    wanted = sorted(set(task_ids))
    if not wanted:
        return {}
    values: list[bytes | None] = await redis.mget([keys.task(t) for t in wanted])
    return {t: v.decode() for t, v in zip(wanted, values, strict=True) if v is not None}
