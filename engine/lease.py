"""Batch leases: at most one worker runs a batch at a time, and a dead worker's lease expires in seconds.

The holder renews the lease from a heartbeat task; a worker killed with ``kill -9`` stops renewing, so the
lease lapses after ``ttl`` and another worker may take the batch over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from engine import keys
from engine.scripts import load_script

log = logging.getLogger(__name__)


def holder_token() -> str:
    """Unique per acquisition; says which host and process holds a batch (for `status`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """Acquire/renew/release batch leases with a TTL in seconds."""

    def __init__(self, redis: aioredis.Redis, ttl: float = 6.0) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl * 1000)
        self._renew = load_script(redis, "lease_renew")
        self._release = load_script(redis, "lease_release")

    @contextlib.asynccontextmanager
    async def hold(self, cid: str, batch: int) -> AsyncIterator[bool]:
        """Yield True while holding the lease of a batch (renewed in the background), False if taken."""
        key = keys.lease(cid, batch)
        token = holder_token()
        if not await self.redis.set(key, token, nx=True, px=self.ttl_ms):
            yield False
            return
        beat = asyncio.create_task(self._heartbeat(key, token))
        try:
            yield True
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await self._release(keys=[key], args=[token])

    async def _heartbeat(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            if not await self._renew(keys=[key], args=[token, self.ttl_ms]):
                log.error("lease %s lost; another worker may have taken the batch over", key)
                return
