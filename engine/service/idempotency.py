"""``Idempotency-Key`` of campaign creation: the same key with the same upload finds the same campaign; the
same key with another upload is a conflict (409), not a second campaign.

The key remembers the digest of the upload it first came with (spec and file), for a day.
"""

from __future__ import annotations

import hashlib
from typing import Final

import redis.asyncio as aioredis

from engine.service.problems import HttpProblem
from engine.store import keys

KEEP_SECONDS: Final = 24 * 3600
MAX_KEY_LENGTH: Final = 200


async def claim(redis: aioredis.Redis, key: str | None, digest: str) -> None:
    """Bind ``key`` to the upload's ``digest``, or check it is bound to it; raises HttpProblem 409 (another
    upload) or 400 (a key too long). No key: nothing to check (submission is idempotent per content)."""
    if key is None:
        return
    if not key or len(key) > MAX_KEY_LENGTH:
        raise HttpProblem(400, f"Idempotency-Key: 1 to {MAX_KEY_LENGTH} characters")
    name = keys.idempotency(hashlib.sha256(key.encode()).hexdigest())
    if await redis.set(name, digest, nx=True, ex=KEEP_SECONDS):
        return
    bound = await redis.get(name)
    if bound is not None and bound.decode() != digest:
        raise HttpProblem(409, "Idempotency-Key was used for another upload (a different spec or file)")
