"""What every worker does beside its jobs: keeps the jobs it runs held, puts lapsed ones back, feeds the
campaigns' batches to the queue, watches Redis, and measures this host's clock against Redis's.

Every third of a visibility (``engine/state/jobs.py``) the worker pushes the deadlines of its running jobs
ahead, puts back at the front of the queue every job whose worker stopped doing so (any worker may reap
any job: the first to see it lapsed does), tops up every campaign's window of batch jobs
(``engine/state/feeder.py``) and checks that Redis still holds the dataset it started with. Every
``SWEEP_SECONDS`` it also purges ended campaigns whose retention is over (``engine/state/retention.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from engine.errors import StateLost
from engine.state import feeder, jobs, retention
from engine.state.instance import InstanceWatch
from engine.store.clock import RedisClock

log = logging.getLogger(__name__)
SWEEP_SECONDS: Final = 3600.0


class Upkeep:
    """The running jobs of one worker process and the loop that keeps them visible as running."""

    def __init__(self, redis: aioredis.Redis, lease_seconds: float, clock: RedisClock) -> None:
        self.redis = redis
        self.clock = clock
        self.visibility = jobs.visibility(lease_seconds)
        self.running: set[str] = set()
        self.instance = InstanceWatch(redis)
        self.next_sweep = 0.0

    async def start(self) -> None:
        await self.instance.start()

    async def started(self, job_id: str) -> None:
        """A job of this worker started: it leaves the queue for the running set (arq's ``on_job_start``)."""
        self.running.add(job_id)
        await jobs.hold(self.redis, [job_id], self.visibility, start=True)

    async def requeue(self, job_id: str, score: int) -> None:
        """A job is about to be retried or was cancelled: back in the queue at its start score."""
        self.running.discard(job_id)
        await jobs.release(self.redis, job_id, score)

    async def ended(self, job_id: str) -> None:
        """A job's run is over and arq settled it (``after_job_end``): it leaves the running set, and a
        batch job's campaign gets its next batch dispensed at once."""
        self.running.discard(job_id)
        await jobs.ended(self.redis, job_id)
        cid = jobs.campaign_of_job(job_id)
        if cid is not None:
            await feeder.feed(self.redis, cid)

    async def _sweep(self) -> None:
        now = time.time()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_SECONDS
        for cid in await retention.sweep(self.redis, now):
            log.info("campaign %s: per-number detail purged (retention over)", cid)

    async def run(self, on_lost: Callable[[StateLost], None]) -> None:
        """Until cancelled: renew, reap and check every third of a visibility. ``on_lost`` is called once
        if Redis lost its data, then the loop ends."""
        while True:
            try:
                await self.instance.check()
                await self.clock.sync(self.redis)
                await jobs.hold(self.redis, list(self.running), self.visibility, start=False)
                reaped = await jobs.reap(self.redis)
                if reaped:
                    log.warning("put back, their worker stopped renewing them: %s", ", ".join(reaped))
                await feeder.feed_all(self.redis)
                await self._sweep()
            except StateLost as lost:
                log.critical("%s", lost)
                on_lost(lost)
                return
            except RedisError as exc:  # Redis restarting: the next round tries again
                log.warning("job upkeep failed (%s); retrying", exc)
            await asyncio.sleep(self.visibility / 3)
