"""Batch leases: at most one worker runs a batch at a time, and a dead worker's lease expires in seconds.

The holder renews the lease from a heartbeat task; a worker killed with ``kill -9`` stops renewing, so the
lease lapses after ``ttl``, by the time the dead worker's job is back in the queue (``state/jobs.py``).
Taking a lease also registers the run in ``kd:running``: the next run of a batch whose entry names another
holder takes it over, and frees the slots the dead holder's calls still held (``lease_acquire.lua``).
A holder that stalls past the TTL loses the lease: ``lost`` is set, and the fenced in-flight journal
(``mark_in_flight.lua``) refuses its next call, so two holders never send the same chunk. A holder cut off
from Redis learns that only when it is back, and may then read answers Redis gave before the cut: so it
also keeps ``valid_until``, the moment up to which the lease is surely still its own (the TTL counted from
the sending of the last acquisition or renewal that succeeded, on this host's monotonic clock), and starts
no call after it (``dispatch/batch_run.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

import redis.asyncio as aioredis

from engine.errors import LeaseLost
from engine.store import keys
from engine.store.scripts import load_script
from engine.types import CHANNELS

log = logging.getLogger(__name__)
IN_FLIGHT: Final = [keys.in_flight(channel) for channel in CHANNELS]  # where a dead holder's slots are


def holder_token() -> str:
    """Unique per acquisition; says which host and process holds a batch (for `status` and benchmarks)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_field(cid: str, batch: int) -> str:
    """Field of a batch run in the ``kd:running`` hash."""
    return f"{cid}:{batch}"


@dataclass(slots=True)
class Lease:
    """A held batch lease: its key and token fence the journal; ``lost`` is set when it lapsed under us;
    until ``valid_until`` (``time.monotonic``) it is surely ours."""

    cid: str
    batch: int
    key: str
    token: str
    valid_until: float = 0.0
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        """Raise LeaseLost once the heartbeat found the lease gone; called at every checkpoint."""
        if self.lost.is_set():
            raise LeaseLost(f"campaign {self.cid} batch {self.batch}: lease lost; a successor takes over")


class Leases:
    """Acquire/renew/release batch leases with a TTL in seconds, renewed every third of it."""

    def __init__(self, redis: aioredis.Redis, ttl: float = 5.0) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl * 1000)
        self._acquire = load_script(redis, "lease_acquire")
        self._renew = load_script(redis, "lease_renew")
        self._release = load_script(redis, "lease_release")

    @contextlib.asynccontextmanager
    async def hold(self, cid: str, batch: int) -> AsyncIterator[Lease | None]:
        """Yield the lease of a batch (renewed in the background) while the block runs; None if taken."""
        lease = Lease(cid, batch, keys.lease(cid, batch), holder_token())
        where = run_field(cid, batch)
        names = [lease.key, keys.RUNNING, *IN_FLIGHT]
        sent = time.monotonic()
        taken, previous, freed = await self._acquire(keys=names, args=[lease.token, self.ttl_ms, where])
        if not taken:
            yield None
            return
        lease.valid_until = sent + self.ttl_ms / 1000
        if previous:
            log.warning(
                "campaign %s batch %d: taken over from %s (it stopped renewing); %d in-flight slots freed",
                cid,
                batch,
                previous.decode(),
                freed,
            )
        beat = asyncio.create_task(self._heartbeat(lease))
        try:
            yield lease
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await self._release(keys=[lease.key, keys.RUNNING], args=[lease.token, where])

    async def _heartbeat(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            sent = time.monotonic()
            try:
                renewed = await self._renew(keys=[lease.key], args=[lease.token, self.ttl_ms])
            except aioredis.RedisError as exc:  # Redis restarting: keep trying; the fence guards the journal
                log.warning("%s: renewal failed (%s); retrying", lease.key, exc)
                continue
            if not renewed:
                log.error("%s lost; the batch stops before its next call", lease.key)
                lease.lost.set()
                return
            lease.valid_until = sent + self.ttl_ms / 1000
